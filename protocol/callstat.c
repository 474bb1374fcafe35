/* protocol/callstat.c — what calls' ends add up to (callstat.h). */
#include "callstat.h"

const double bay__callstat_bounds_us[BAY__CALLSTAT_BUCKETS - 1] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250000, 1000000, 10000000,
};

size_t bay__callstat_bucket(double us)
{
    size_t lo = 0, hi = BAY__CALLSTAT_BUCKETS - 1; /* the answer is in [lo, hi] */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (us <= bay__callstat_bounds_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void bay__callstat_add(bay__callstat *s, int code, double us)
{
    if (us < 0 || us != us) /* a clock that went back, or NaN: no time at all */
        us = 0;
    s->calls++;
    if (code != 0) {
        s->errors++;
        s->by_code[code > 0 && code < BAY__CALLSTAT_CODES ? code : BAY__CALLSTAT_CODES - 1]++;
    }
    s->buckets[bay__callstat_bucket(us)]++;
    s->sum_us += us;
}

void bay__callstat_merge(bay__callstat *into, const bay__callstat *from)
{
    into->calls += from->calls;
    into->errors += from->errors;
    for (size_t i = 0; i < BAY__CALLSTAT_CODES; i++)
        into->by_code[i] += from->by_code[i];
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->sum_us += from->sum_us;
}
