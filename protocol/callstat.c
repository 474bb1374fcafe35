/* protocol/callstat.c — what calls' ends add up to (callstat.h). */
#include "callstat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

bay_value *bay__callstat_value(const bay__callstat *s)
{
    bay_value *v = bay_map(), *by_code = bay_map(), *buckets = bay_array();
    int failed = v == NULL; /* bay_map_set and bay_array_push free what they could not add */
    for (size_t i = 1; i < BAY__CALLSTAT_CODES; i++) {
        char code[16];
        snprintf(code, sizeof code, "%zu", i);
        if (s->by_code[i])
            failed |= bay_map_set(by_code, code, bay_int((int64_t)s->by_code[i]));
    }
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS; i++)
        failed |= bay_array_push(buckets, bay_int((int64_t)s->buckets[i]));
    failed |= bay_map_set(v, "calls", bay_int((int64_t)s->calls));
    failed |= bay_map_set(v, "errors", bay_int((int64_t)s->errors));
    failed |= bay_map_set(v, "by_code", by_code);
    failed |= bay_map_set(v, "buckets", buckets);
    failed |= bay_map_set(v, "sum_us", bay_float(s->sum_us));
    if (failed) {
        bay_value_free(v);
        return NULL;
    }
    return v;
}

/* count reads field what of a report, v: a whole number from 0 to max into
 * *n, or BAY_EPROTO with err. */
static int count(const bay_value *v, const char *what, uint64_t max, uint64_t *n, bay_error *err)
{
    int64_t i = bay_value_int(v);
    *n = 0;
    if (bay_value_type(v) != BAY_INT || i < 0 || (uint64_t)i > max)
        return bay_error_set(err, BAY_EPROTO, NULL, "%s must be a whole number from 0 to %llu", what,
                             (unsigned long long)max);
    *n = (uint64_t)i;
    return 0;
}

/* code_of reads a by_code key: a decimal error code from 1 to BAY__CALLSTAT_CODES - 1, or 0. */
static size_t code_of(const char *key)
{
    char *end = NULL;
    unsigned long code = key[0] >= '1' && key[0] <= '9' ? strtoul(key, &end, 10) : 0; /* no sign, space or 0 first */
    return code && *end == '\0' && code < BAY__CALLSTAT_CODES ? (size_t)code : 0;
}

/* read_by_code reads the map by of a report into s->by_code, checking it adds up to s->errors. */
static int read_by_code(const bay_value *by, bay__callstat *s, bay_error *err)
{
    if (bay_value_type(by) != BAY_MAP || bay_value_len(by) >= BAY__CALLSTAT_CODES)
        return bay_error_set(err, BAY_EPROTO, NULL, "by_code must be a map of at most %d error codes to counts",
                             BAY__CALLSTAT_CODES - 1);
    uint64_t sum = 0, n;
    const bay_value *v;
    const char *key;
    for (size_t i = 0; (key = bay_map_entry(by, i, &v)) != NULL; i++) {
        size_t code = code_of(key);
        if (code == 0)
            return bay_error_set(err, BAY_EPROTO, NULL, "by_code's keys must be error codes from 1 to %d in decimal",
                                 BAY__CALLSTAT_CODES - 1);
        int rc = count(v, "a count of by_code", s->errors, &n, err);
        if (rc)
            return rc;
        s->by_code[code] += n;
        sum += n;
    }
    if (sum != s->errors)
        return bay_error_set(err, BAY_EPROTO, NULL, "by_code adds up to %llu errors, not %llu", (unsigned long long)sum,
                             (unsigned long long)s->errors);
    return 0;
}

/* read_buckets reads the array b of a report into s->buckets, checking they
 * add up to s->calls and allow s->sum_us (each call's time within its bucket). */
static int read_buckets(const bay_value *b, bay__callstat *s, bay_error *err)
{
    if (bay_value_type(b) != BAY_ARRAY || bay_value_len(b) != BAY__CALLSTAT_BUCKETS)
        return bay_error_set(err, BAY_EPROTO, NULL, "buckets must be an array of %d counts", BAY__CALLSTAT_BUCKETS);
    uint64_t sum = 0;
    double least = 0, most = 0; /* the sum of times the buckets allow; the last one has no upper bound */
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS; i++) {
        int rc = count(bay_array_get(b, i), "each bucket", s->calls, &s->buckets[i], err);
        if (rc)
            return rc;
        sum += s->buckets[i];
        least += i ? (double)s->buckets[i] * bay__callstat_bounds_us[i - 1] : 0;
        most += i < BAY__CALLSTAT_BUCKETS - 1 ? (double)s->buckets[i] * bay__callstat_bounds_us[i] : 0;
    }
    if (sum != s->calls)
        return bay_error_set(err, BAY_EPROTO, NULL, "buckets add up to %llu calls, not %llu", (unsigned long long)sum,
                             (unsigned long long)s->calls);
    double slack = 1 + (least + most) * 1e-6; /* rounding in the worker's additions */
    if (s->sum_us < least - slack || (s->buckets[BAY__CALLSTAT_BUCKETS - 1] == 0 && s->sum_us > most + slack))
        return bay_error_set(err, BAY_EPROTO, NULL, "sum_us %.0f is not a sum the buckets allow", s->sum_us);
    return 0;
}

int bay__callstat_from_value(const bay_value *v, uint64_t max_calls, bay__callstat *out, bay_error *err)
{
    bay__callstat s = {0};
    const bay_value *sum = bay_map_get(v, "sum_us");
    int rc = bay_value_type(v) == BAY_MAP ? 0 : bay_error_set(err, BAY_EPROTO, NULL, "it is not a map");
    if (rc == 0)
        rc = count(bay_map_get(v, "calls"), "calls", max_calls, &s.calls, err);
    if (rc == 0)
        rc = count(bay_map_get(v, "errors"), "errors (no more than calls)", s.calls, &s.errors, err);
    s.sum_us = bay_value_float(sum);
    if (rc == 0 && ((bay_value_type(sum) != BAY_FLOAT && bay_value_type(sum) != BAY_INT) || !isfinite(s.sum_us) ||
                    s.sum_us < 0))
        rc = bay_error_set(err, BAY_EPROTO, NULL, "sum_us must be a number of microseconds from 0");
    if (rc == 0)
        rc = read_by_code(bay_map_get(v, "by_code"), &s, err);
    if (rc == 0)
        rc = read_buckets(bay_map_get(v, "buckets"), &s, err);
    *out = rc ? (bay__callstat){0} : s;
    return rc;
}
