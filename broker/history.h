/* broker/history.h — one plugin's recent past: a slot per second for the last hour, a slot per minute for the last day, in fixed memory.
 *
 * The caller samples the plugin's cumulative counters once a second (its own
 * clock: whole seconds, any origin, never going back); history keeps the
 * difference since the previous sample in that second's slot. When a minute
 * ends its seconds are folded into its minute slot. Nothing is allocated after
 * bay__history_new: the memory is the same after one hour or a year. */
#ifndef BAY_HISTORY_H
#define BAY_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "callstat.h"

#define BAY__HISTORY_SECONDS 3600 /* one-second slots kept: the last hour */
#define BAY__HISTORY_MINUTES 1440 /* one-minute slots kept: the last day */

/* What one second or one minute held. Latencies come from the histogram of
 * the calls that ended in it, interpolated within the bucket (0 when none). */
typedef struct bay__history_slot {
    uint32_t calls;    /* calls that ended, answered or failed */
    uint32_t errors;   /* those that failed */
    uint32_t p50_us;   /* median call time, µs */
    uint32_t p99_us;   /* 99th percentile, µs */
    uint32_t cpu_ms;   /* CPU time its workers used */
    uint32_t pss_kb;   /* its worker's PSS at the end (a minute: the most over its seconds); 0 when none ran */
    uint32_t refusals; /* operations its sandbox refused */
    uint16_t restarts; /* restarts scheduled (saturates at 65535) */
    uint16_t sampled;  /* 1 when a sample covered it (a minute: how many of its seconds), 0 for a gap */
} bay__history_slot;

/* The plugin's counters at one moment, all since plugbayd started, but pss_kb (now; -1: no worker). */
typedef struct bay__history_counters {
    const bay__callstat *calls;
    int64_t restarts;
    int64_t refusals;
    int64_t cpu_ms;
    int64_t pss_kb;
} bay__history_counters;

typedef struct bay__history bay__history;

/* bay__history_new returns an empty history, or NULL when out of memory; the
 * caller frees it with bay__history_free (NULL allowed). */
bay__history *bay__history_new(void);
void bay__history_free(bay__history *h);

/* bay__history_bytes returns the bytes h holds allocated: the same whatever it was fed. */
size_t bay__history_bytes(const bay__history *h);

/* bay__history_sample records s at second now: its difference from the
 * previous sample (the first sample's from zero) goes to now's slot. Seconds
 * skipped since the previous sample are gaps; a now not after the previous
 * sample's adds to that second. Counters that went down (they do not) count
 * as no change. */
void bay__history_sample(bay__history *h, int64_t now, const bay__history_counters *s);

/* bay__history_last returns the second of the latest sample, -1 before the first. */
int64_t bay__history_last(const bay__history *h);

/* bay__history_second copies into *out the slot of second t, and returns 0;
 * BAY_ENOENT (slot zeroed) when t is older than the hour kept, before the
 * first sample or after the latest. */
int bay__history_second(const bay__history *h, int64_t t, bay__history_slot *out);

/* bay__history_minute copies into *out the slot of minute m (seconds m*60 to
 * m*60+59), and returns 0: a finished minute from its ring, the current one
 * folded from its seconds so far; BAY_ENOENT (slot zeroed) when m is older
 * than the day kept, before the first sample's minute or after the latest's. */
int bay__history_minute(const bay__history *h, int64_t m, bay__history_slot *out);

/* bay__history_percentile returns the time in µs below which fraction q (0..1)
 * of the calls counted in buckets (BAY__CALLSTAT_BUCKETS of them) fall, by
 * linear interpolation within a bucket (the last, unbounded bucket answers its
 * lower bound); 0 when buckets count no call. */
double bay__history_percentile(const uint64_t *buckets, double q);

#endif
