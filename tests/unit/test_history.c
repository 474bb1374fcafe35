/* tests/unit/test_history.c — a plugin's history: seconds for an hour, minutes for a day, fixed memory (broker/history.c). */
#include <criterion/criterion.h>
#include <string.h>

#include <plugbay/error.h>

#include "history.h"

/* A plugin fed by the tests: its cumulative counters and what is sampled of them. */
typedef struct fed {
    bay__callstat calls;
    int64_t restarts, refusals, cpu_ms, pss_kb;
} fed;

static void sample(bay__history *h, int64_t now, const fed *f)
{
    bay__history_counters s = {&f->calls, f->restarts, f->refusals, f->cpu_ms, f->pss_kb};
    bay__history_sample(h, now, &s);
}

/* second returns the slot of second t, asserting it is kept. */
static bay__history_slot second(const bay__history *h, int64_t t)
{
    bay__history_slot s;
    cr_assert_eq(bay__history_second(h, t, &s), 0, "second %lld is not kept", (long long)t);
    return s;
}

static bay__history_slot minute(const bay__history *h, int64_t m)
{
    bay__history_slot s;
    cr_assert_eq(bay__history_minute(h, m, &s), 0, "minute %lld is not kept", (long long)m);
    return s;
}

Test(history, a_second_keeps_what_grew_since_the_sample_before)
{
    bay__history *h = bay__history_new();
    cr_assert_not_null(h);
    cr_expect_eq(bay__history_last(h), -1);
    fed f = {.pss_kb = 900};
    bay__callstat_add(&f.calls, 0, 100);
    sample(h, 1000, &f);
    for (int i = 0; i < 9; i++)
        bay__callstat_add(&f.calls, 0, 40);
    bay__callstat_add(&f.calls, BAY_ETIMEDOUT, 5000000);
    f.cpu_ms = 25;
    f.refusals = 3;
    f.restarts = 1;
    f.pss_kb = 1200;
    sample(h, 1001, &f);
    bay__history_slot s = second(h, 1000);
    cr_expect_eq(s.calls, 1);
    cr_expect_eq(s.pss_kb, 900);
    s = second(h, 1001);
    cr_expect_eq(s.calls, 10);
    cr_expect_eq(s.errors, 1);
    cr_expect_eq(s.cpu_ms, 25);
    cr_expect_eq(s.refusals, 3);
    cr_expect_eq(s.restarts, 1);
    cr_expect_eq(s.pss_kb, 1200);
    cr_expect_eq(s.sampled, 1);
    cr_expect(s.p50_us > 25 && s.p50_us <= 50, "p50 %u µs: the calls took 40 µs (bucket 25-50)", s.p50_us);
    cr_expect(s.p99_us > 2500000 && s.p99_us <= 10000000, "p99 %u µs: one call of ten took 5 s", s.p99_us);
    cr_expect_eq(bay__history_second(h, 1002, &s), BAY_ENOENT, "a second after the latest sample is not kept");
    cr_expect_eq(bay__history_second(h, 999, &s), BAY_ENOENT, "nor one before the first");
    cr_expect_eq(bay__history_minute(h, 999 / 60 - 1, &s), BAY_ENOENT, "nor a minute before the first's");
    bay__history_free(h);
    bay__history_free(NULL);
}

Test(history, samples_within_one_second_add_up)
{
    bay__history *h = bay__history_new();
    fed f = {0};
    sample(h, 50, &f);
    bay__callstat_add(&f.calls, 0, 10);
    sample(h, 51, &f);
    bay__callstat_add(&f.calls, 0, 10);
    sample(h, 51, &f);
    sample(h, 49, &f); /* a clock that went back adds to the latest second */
    cr_expect_eq(second(h, 51).calls, 2);
    cr_expect_eq(bay__history_last(h), 51);
    bay__history_free(h);
}

Test(history, skipped_seconds_are_gaps)
{
    bay__history *h = bay__history_new();
    fed f = {0};
    sample(h, 100, &f);
    bay__callstat_add(&f.calls, 0, 10);
    bay__callstat_add(&f.calls, 0, 10);
    sample(h, 105, &f);
    for (int t = 101; t < 105; t++) {
        bay__history_slot s = second(h, t);
        cr_expect_eq(s.sampled, 0, "second %d was not sampled", t);
        cr_expect_eq(s.calls, 0);
    }
    cr_expect_eq(second(h, 105).calls, 2, "the calls of the gap count at the sample after it");
    bay__history_free(h);
}

Test(history, percentiles_interpolate_within_a_bucket)
{
    uint64_t b[BAY__CALLSTAT_BUCKETS] = {0};
    cr_expect_eq(bay__history_percentile(b, 0.5), 0);
    b[3] = 100; /* 50-100 µs */
    cr_expect_float_eq(bay__history_percentile(b, 0.5), 75, 1e-9);
    cr_expect_float_eq(bay__history_percentile(b, 0.99), 99.5, 1e-9);
    memset(b, 0, sizeof b);
    b[BAY__CALLSTAT_BUCKETS - 1] = 4; /* slower than every bound: its lower bound */
    cr_expect_float_eq(bay__history_percentile(b, 0.5), 10000000, 1e-9);
}

/* Two days of seconds at one call a second (the second's number mod 7 of them
 * failing with BAY_EIO at 1 ms, the others answered in 30 µs): each second and
 * minute kept holds what it should, the older are dropped, and the memory held
 * is the same from hour 1 to hour 48. */
Test(history, two_days_of_seconds_stay_in_fixed_memory)
{
    bay__history *h = bay__history_new();
    cr_assert_not_null(h);
    fed f = {.pss_kb = 2048};
    const int64_t start = 7 * 86400 + 17; /* not on a minute's edge */
    size_t bytes_hour1 = 0;
    for (int64_t t = start; t < start + 2 * 86400; t++) {
        bay__callstat_add(&f.calls, t % 7 == 0 ? BAY_EIO : 0, t % 7 == 0 ? 1000 : 30);
        f.cpu_ms += 3;
        if (t % 600 == 0)
            f.restarts++;
        sample(h, t, &f);
        if (t == start + 3600)
            bytes_hour1 = bay__history_bytes(h);
    }
    int64_t last = start + 2 * 86400 - 1;
    cr_expect_eq(bay__history_last(h), last);
    cr_expect_eq(bay__history_bytes(h), bytes_hour1, "%zu bytes at hour 48, %zu at hour 1", bay__history_bytes(h),
                 bytes_hour1);
    cr_expect_lt(bay__history_bytes(h), 200 * 1024, "%zu bytes for one plugin", bay__history_bytes(h));

    /* Seconds: the last hour, each with its one call. */
    bay__history_slot s;
    for (int64_t t = last - BAY__HISTORY_SECONDS + 1; t <= last; t++) {
        s = second(h, t);
        cr_assert(s.calls == 1 && s.errors == (t % 7 == 0) && s.cpu_ms == 3 && s.sampled == 1,
                  "second %lld: %u calls, %u errors, %u ms CPU", (long long)t, s.calls, s.errors, s.cpu_ms);
    }
    cr_expect_eq(bay__history_second(h, last - BAY__HISTORY_SECONDS, &s), BAY_ENOENT, "older than an hour");

    /* Minutes: the last day, each its 60 seconds folded. */
    int64_t now = last / 60;
    for (int64_t m = now - BAY__HISTORY_MINUTES + 1; m < now; m++) {
        s = minute(h, m);
        uint32_t errors = 0, restarts = 0;
        for (int64_t t = m * 60; t < m * 60 + 60; t++)
            errors += t % 7 == 0, restarts += t % 600 == 0;
        cr_assert(s.calls == 60 && s.errors == errors && s.cpu_ms == 180 && s.sampled == 60 && s.pss_kb == 2048 &&
                      s.restarts == restarts,
                  "minute %lld: %u calls, %u errors, %u ms CPU, %u seconds, %u restarts", (long long)m, s.calls,
                  s.errors, s.cpu_ms, s.sampled, s.restarts);
        cr_assert(s.p50_us > 25 && s.p50_us <= 50 && s.p99_us > 500 && s.p99_us <= 1000,
                  "minute %lld: p50 %u µs, p99 %u µs", (long long)m, s.p50_us, s.p99_us);
    }
    s = minute(h, now); /* the current minute, folded from its seconds so far */
    cr_expect_eq(s.calls, (uint32_t)(last % 60 + 1));
    cr_expect_eq(bay__history_minute(h, now - BAY__HISTORY_MINUTES, &s), BAY_ENOENT, "older than a day");
    cr_expect_eq(bay__history_minute(h, now + 1, &s), BAY_ENOENT);
    bay__history_free(h);
}

Test(history, a_long_gap_clears_what_it_covers)
{
    bay__history *h = bay__history_new();
    fed f = {0};
    for (int64_t t = 0; t < 120; t++) {
        bay__callstat_add(&f.calls, 0, 10);
        sample(h, t, &f);
    }
    sample(h, 120 + 2 * 86400, &f); /* two days later */
    bay__history_slot s;
    int64_t last = bay__history_last(h);
    for (int64_t t = last - BAY__HISTORY_SECONDS + 1; t < last; t++)
        cr_assert_eq(second(h, t).sampled, 0, "second %lld", (long long)t);
    for (int64_t m = last / 60 - BAY__HISTORY_MINUTES + 1; m < last / 60; m++) {
        s = minute(h, m);
        cr_assert(s.sampled == 0 && s.calls == 0, "minute %lld: %u calls", (long long)m, s.calls);
    }
    bay__history_free(h);
}
