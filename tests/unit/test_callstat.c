/* tests/unit/test_callstat.c — calls' counts, errors by code and the latency histogram. */
#include <criterion/criterion.h>
#include <math.h>

#include "callstat.h"

Test(callstat, buckets_take_their_bounds)
{
    cr_assert_eq(bay__callstat_bucket(0), 0);
    cr_assert_eq(bay__callstat_bucket(10), 0, "a call of exactly a bound counts in its bucket");
    cr_assert_eq(bay__callstat_bucket(10.001), 1);
    for (size_t i = 0; i < BAY__CALLSTAT_BUCKETS - 1; i++) {
        cr_assert_eq(bay__callstat_bucket(bay__callstat_bounds_us[i]), i);
        if (i > 0)
            cr_assert_gt(bay__callstat_bounds_us[i], bay__callstat_bounds_us[i - 1]);
    }
    cr_assert_eq(bay__callstat_bucket(1e12), BAY__CALLSTAT_BUCKETS - 1, "slower than every bound: the last");
}

Test(callstat, add_counts_codes_and_odd_times)
{
    bay__callstat s = {0};
    bay__callstat_add(&s, 0, 42);
    bay__callstat_add(&s, 7, 3);
    bay__callstat_add(&s, 500, -5);   /* an unknown code, a clock gone back */
    bay__callstat_add(&s, -1, NAN);
    cr_assert_eq(s.calls, 4);
    cr_assert_eq(s.errors, 3);
    cr_assert_eq(s.by_code[7], 1);
    cr_assert_eq(s.by_code[BAY__CALLSTAT_CODES - 1], 2);
    cr_assert_eq(s.buckets[0], 3);
    cr_assert_eq(s.buckets[2], 1);
    cr_assert_float_eq(s.sum_us, 45, 1e-9);
}

Test(callstat, merge_adds_every_count)
{
    bay__callstat a = {0}, b = {0};
    bay__callstat_add(&a, 0, 100);
    bay__callstat_add(&b, 11, 2e7);
    bay__callstat_add(&b, 0, 100);
    bay__callstat_merge(&a, &b);
    cr_assert_eq(a.calls, 3);
    cr_assert_eq(a.errors, 1);
    cr_assert_eq(a.by_code[11], 1);
    cr_assert_eq(a.buckets[3], 2);
    cr_assert_eq(a.buckets[BAY__CALLSTAT_BUCKETS - 1], 1);
    cr_assert_float_eq(a.sum_us, 2e7 + 200, 1e-6);
}
