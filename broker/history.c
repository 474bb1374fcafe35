/* broker/history.c — one plugin's recent past in fixed memory (history.h). */
#include "history.h"

#include <stdlib.h>
#include <string.h>

#include <plugbay/error.h>

struct bay__history {
    bay__history_slot sec[BAY__HISTORY_SECONDS]; /* second t in sec[t % BAY__HISTORY_SECONDS] */
    bay__history_slot min[BAY__HISTORY_MINUTES]; /* finished minute m in min[m % BAY__HISTORY_MINUTES] */
    int64_t first, last;                         /* the first and latest samples' seconds, -1 before the first */
    bay__callstat prev;                          /* the calls as the latest sample counted them */
    int64_t prev_restarts, prev_refusals, prev_cpu_ms;
    uint64_t sec_base[BAY__CALLSTAT_BUCKETS];    /* the histogram when last's second began */
    uint64_t min_base[BAY__CALLSTAT_BUCKETS];    /* and when its minute began */
};

bay__history *bay__history_new(void)
{
    bay__history *h = calloc(1, sizeof *h);
    if (h)
        h->first = h->last = -1;
    return h;
}

void bay__history_free(bay__history *h)
{
    free(h);
}

size_t bay__history_bytes(const bay__history *h)
{
    return h ? sizeof *h : 0;
}

int64_t bay__history_last(const bay__history *h)
{
    return h->last;
}

double bay__history_percentile(const uint64_t *buckets, double q)
{
    uint64_t total = 0, below = 0;
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS; i++)
        total += buckets[i];
    if (total == 0)
        return 0;
    double rank = q * (double)total;
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS; i++) {
        if (buckets[i] == 0 || (double)(below + buckets[i]) < rank) {
            below += buckets[i];
            continue;
        }
        double lo = i ? bay__callstat_bounds_us[i - 1] : 0;
        if (i == BAY__CALLSTAT_BUCKETS - 1)
            return lo;
        double hi = bay__callstat_bounds_us[i];
        return lo + (hi - lo) * (rank - (double)below) / (double)buckets[i];
    }
    return bay__callstat_bounds_us[BAY__CALLSTAT_BUCKETS - 2];
}

/* since returns how much counter now grew over was (0 when it did not), at most UINT32_MAX. */
static uint32_t since(int64_t now, int64_t was)
{
    return now <= was ? 0 : now - was >= UINT32_MAX ? UINT32_MAX : (uint32_t)(now - was);
}

static uint32_t add32(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* latencies sets s's p50 and p99 from the histogram's growth since base. */
static void latencies(const bay__history *h, const uint64_t *base, bay__history_slot *s)
{
    uint64_t grew[BAY__CALLSTAT_BUCKETS];
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS; i++)
        grew[i] = h->prev.buckets[i] > base[i] ? h->prev.buckets[i] - base[i] : 0;
    s->p50_us = (uint32_t)bay__history_percentile(grew, 0.50);
    s->p99_us = (uint32_t)bay__history_percentile(grew, 0.99);
}

/* fold adds up into *out the seconds kept of minute m, which is last's. */
static void fold(const bay__history *h, int64_t m, bay__history_slot *out)
{
    memset(out, 0, sizeof *out);
    for (int64_t t = m * 60; t <= h->last && t < m * 60 + 60; t++) {
        if (t <= h->last - BAY__HISTORY_SECONDS)
            continue;
        const bay__history_slot *s = &h->sec[t % BAY__HISTORY_SECONDS];
        out->calls = add32(out->calls, s->calls);
        out->errors = add32(out->errors, s->errors);
        out->cpu_ms = add32(out->cpu_ms, s->cpu_ms);
        out->refusals = add32(out->refusals, s->refusals);
        out->restarts = out->restarts > UINT16_MAX - s->restarts ? UINT16_MAX : out->restarts + s->restarts;
        out->pss_kb = s->pss_kb > out->pss_kb ? s->pss_kb : out->pss_kb;
        out->sampled += s->sampled;
    }
    latencies(h, h->min_base, out);
}

/* advance moves h on to second now (after last): the minutes that ended are
 * folded, and the slots skipped in between cleared. */
static void advance(bay__history *h, int64_t now)
{
    if (h->last >= 0 && now / 60 != h->last / 60) {
        int64_t done = h->last / 60;
        fold(h, done, &h->min[done % BAY__HISTORY_MINUTES]);
        for (int64_t m = done + 1; m <= now / 60 && m <= done + BAY__HISTORY_MINUTES; m++)
            memset(&h->min[m % BAY__HISTORY_MINUTES], 0, sizeof *h->min);
        memcpy(h->min_base, h->prev.buckets, sizeof h->min_base);
    }
    if (h->last >= 0 && now - h->last >= BAY__HISTORY_SECONDS) /* before the first sample: zero from calloc */
        memset(h->sec, 0, sizeof h->sec);
    else if (h->last >= 0)
        for (int64_t t = h->last + 1; t <= now; t++)
            memset(&h->sec[t % BAY__HISTORY_SECONDS], 0, sizeof *h->sec);
    memcpy(h->sec_base, h->prev.buckets, sizeof h->sec_base);
    if (h->first < 0)
        h->first = now;
    h->last = now;
}

void bay__history_sample(bay__history *h, int64_t now, const bay__history_counters *s)
{
    if (now > h->last)
        advance(h, now);
    bay__history_slot *slot = &h->sec[h->last % BAY__HISTORY_SECONDS];
    const bay__callstat *c = s->calls;
    slot->calls = add32(slot->calls, since((int64_t)c->calls, (int64_t)h->prev.calls));
    slot->errors = add32(slot->errors, since((int64_t)c->errors, (int64_t)h->prev.errors));
    slot->cpu_ms = add32(slot->cpu_ms, since(s->cpu_ms, h->prev_cpu_ms));
    slot->refusals = add32(slot->refusals, since(s->refusals, h->prev_refusals));
    uint32_t restarts = add32(slot->restarts, since(s->restarts, h->prev_restarts));
    slot->restarts = restarts > UINT16_MAX ? UINT16_MAX : (uint16_t)restarts;
    slot->pss_kb = s->pss_kb <= 0 ? 0 : s->pss_kb >= UINT32_MAX ? UINT32_MAX : (uint32_t)s->pss_kb;
    slot->sampled = 1;
    h->prev = *c;
    h->prev_cpu_ms = s->cpu_ms > h->prev_cpu_ms ? s->cpu_ms : h->prev_cpu_ms;
    h->prev_refusals = s->refusals > h->prev_refusals ? s->refusals : h->prev_refusals;
    h->prev_restarts = s->restarts > h->prev_restarts ? s->restarts : h->prev_restarts;
    latencies(h, h->sec_base, slot);
}

int bay__history_second(const bay__history *h, int64_t t, bay__history_slot *out)
{
    memset(out, 0, sizeof *out);
    if (h->last < 0 || t > h->last || t <= h->last - BAY__HISTORY_SECONDS || t < h->first)
        return BAY_ENOENT;
    *out = h->sec[t % BAY__HISTORY_SECONDS];
    return 0;
}

int bay__history_minute(const bay__history *h, int64_t m, bay__history_slot *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = h->last / 60;
    if (h->last < 0 || m > now || m <= now - BAY__HISTORY_MINUTES || m < h->first / 60)
        return BAY_ENOENT;
    if (m == now)
        fold(h, m, out);
    else
        *out = h->min[m % BAY__HISTORY_MINUTES];
    return 0;
}
