/* protocol/callstat.h — what calls' ends add up to: counts, errors by code and a latency histogram.
 *
 * plugbayd keeps one per plugin for the calls it routes; a worker keeps one for
 * the calls its fast channels served since it last told plugbayd, which adds
 * them to the plugin's. The histogram's buckets are the same on both sides. */
#ifndef BAY_CALLSTAT_H
#define BAY_CALLSTAT_H

#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>
#include <plugbay/value.h>

/* Error codes counted apart: 1 .. BAY__CALLSTAT_CODES - 1 (a larger one counts
 * in the last). */
#define BAY__CALLSTAT_CODES 32

/* Latency buckets: one per bound of bay__callstat_bounds_us, and the last for
 * calls slower than every bound. */
#define BAY__CALLSTAT_BUCKETS 15

/* bay__callstat_bounds_us holds the buckets' upper bounds in microseconds,
 * ascending (a call of exactly a bound's time counts in that bucket). */
extern const double bay__callstat_bounds_us[BAY__CALLSTAT_BUCKETS - 1];

typedef struct bay__callstat {
    uint64_t calls;                          /* calls ended, answered or failed */
    uint64_t errors;                         /* those that failed */
    uint64_t by_code[BAY__CALLSTAT_CODES];   /* failures by error code ([0] unused) */
    uint64_t buckets[BAY__CALLSTAT_BUCKETS]; /* calls per latency bucket (not cumulative) */
    double sum_us;                           /* all their times added up */
} bay__callstat;

/* bay__callstat_bucket returns the bucket a call of us microseconds counts in. */
size_t bay__callstat_bucket(double us);

/* bay__callstat_add counts one call that ended with code (0: answered) after us
 * microseconds. */
void bay__callstat_add(bay__callstat *s, int code, double us);

/* bay__callstat_merge adds every count of from to into. */
void bay__callstat_merge(bay__callstat *into, const bay__callstat *from);

/* bay__callstat_value returns s as a new value (the caller frees it; NULL when
 * out of memory): a map {"calls": int, "errors": int, "by_code": {"CODE": int}
 * (the codes that failed calls, as decimal strings), "buckets": [BAY__CALLSTAT_BUCKETS
 * ints], "sum_us": float}, as a worker reports its fast calls to plugbayd. */
bay_value *bay__callstat_value(const bay__callstat *s);

/* bay__callstat_from_value reads a value bay__callstat_value made into *out,
 * trusting nothing: every count a whole number from 0, at most max_calls
 * calls, errors no more than calls, the buckets (exactly BAY__CALLSTAT_BUCKETS)
 * adding up to calls, by_code's codes 1 to BAY__CALLSTAT_CODES - 1 adding up to
 * errors, sum_us finite and within what the buckets allow. Returns 0, or
 * BAY_EPROTO with err saying what is wrong (*out is then zero). */
int bay__callstat_from_value(const bay_value *v, uint64_t max_calls, bay__callstat *out, bay_error *err);

#endif
