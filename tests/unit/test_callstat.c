/* tests/unit/test_callstat.c — calls' counts, errors by code and the latency histogram. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

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

/* sample counts three calls: one answered, two failed with code 6. */
static bay__callstat sample(void)
{
    bay__callstat s = {0};
    bay__callstat_add(&s, 0, 4);
    bay__callstat_add(&s, 6, 30);
    bay__callstat_add(&s, 6, 2e7);
    return s;
}

Test(callstat, a_report_comes_back_as_it_went)
{
    bay__callstat s = sample(), back;
    bay_value *v = bay__callstat_value(&s);
    cr_assert_not_null(v);
    cr_assert_eq(bay_value_len(bay_map_get(v, "by_code")), 1, "only the codes that failed calls");
    cr_assert_eq(bay_value_int(bay_map_get(bay_map_get(v, "by_code"), "6")), 2);
    bay_error err;
    cr_assert_eq(bay__callstat_from_value(v, 3, &back, &err), 0, "%s", err.message);
    cr_assert(memcmp(&s, &back, sizeof s) == 0, "a value read back differs");
    bay_value_free(v);
    bay__callstat none = {0};
    v = bay__callstat_value(&none);
    cr_assert_eq(bay__callstat_from_value(v, 3, &back, &err), 0, "an empty report is no lie: %s", err.message);
    bay_value_free(v);
}

/* refused has bay__callstat_from_value read sample()'s report after edit(v)
 * and expects BAY_EPROTO saying why, and nothing read. */
static void refused(void (*edit)(bay_value *v), const char *why)
{
    bay__callstat s = sample(), out = sample();
    bay_value *v = bay__callstat_value(&s);
    edit(v);
    bay_error err;
    cr_assert_eq(bay__callstat_from_value(v, 1000, &out, &err), BAY_EPROTO, "accepted; wanted: %s", why);
    cr_assert(strstr(err.message, why), "\"%s\" does not say \"%s\"", err.message, why);
    cr_assert_eq(out.calls + out.errors + out.buckets[0] + out.by_code[6], 0, "a refused report left counts");
    bay_value_free(v);
}

static void calls_negative(bay_value *v) { bay_map_set(v, "calls", bay_int(-3)); }
static void calls_float(bay_value *v) { bay_map_set(v, "calls", bay_float(3)); }
static void calls_absurd(bay_value *v) { bay_map_set(v, "calls", bay_int(1001)); }
static void calls_missing(bay_value *v) { bay_map_set(v, "calls", bay_nil()); }
static void errors_over_calls(bay_value *v) { bay_map_set(v, "errors", bay_int(4)); }
static void errors_str(bay_value *v) { bay_map_set(v, "errors", bay_str("2")); }
static void sum_negative(bay_value *v) { bay_map_set(v, "sum_us", bay_float(-1)); }
static void sum_infinite(bay_value *v) { bay_map_set(v, "sum_us", bay_float(INFINITY)); }
static void sum_str(bay_value *v) { bay_map_set(v, "sum_us", bay_str("1")); }
static void sum_too_small(bay_value *v) { bay_map_set(v, "sum_us", bay_float(5)); }
static void by_code_array(bay_value *v) { bay_map_set(v, "by_code", bay_array()); }
/* set_by_code makes v's by_code {key: n}. */
static void set_by_code(bay_value *v, const char *key, int64_t n)
{
    bay_value *by = bay_map();
    bay_map_set(by, key, bay_int(n));
    bay_map_set(v, "by_code", by);
}
static void by_code_short(bay_value *v) { set_by_code(v, "6", 1); }
static void by_code_zero(bay_value *v) { set_by_code(v, "0", 2); }
static void by_code_big(bay_value *v) { set_by_code(v, "32", 2); }
static void by_code_word(bay_value *v) { set_by_code(v, "BAY_EIO", 2); }
static void by_code_padded(bay_value *v) { set_by_code(v, "06", 2); }
static void by_code_negative(bay_value *v) { set_by_code(v, "6", -2); }
static void buckets_map(bay_value *v) { bay_map_set(v, "buckets", bay_map()); }
/* set_buckets makes v's buckets n zeros. */
static void set_buckets(bay_value *v, int n)
{
    bay_value *b = bay_array();
    for (int i = 0; i < n; i++)
        bay_array_push(b, bay_int(0));
    bay_map_set(v, "buckets", b);
}
static void buckets_short(bay_value *v) { set_buckets(v, BAY__CALLSTAT_BUCKETS - 1); }
static void buckets_over(bay_value *v) { set_buckets(v, BAY__CALLSTAT_BUCKETS + 1); }
static void buckets_sum(bay_value *v) { bay_map_set(v, "calls", bay_int(2)); bay_map_set(v, "errors", bay_int(2)); }
Test(callstat, a_malformed_report_is_refused_saying_why)
{
    refused(calls_negative, "calls must be a whole number from 0 to 1000");
    refused(calls_float, "calls must be a whole number");
    refused(calls_absurd, "calls must be a whole number from 0 to 1000");
    refused(calls_missing, "calls must be");
    refused(errors_over_calls, "errors (no more than calls) must be a whole number from 0 to 3");
    refused(errors_str, "errors (no more than calls)");
    refused(sum_negative, "sum_us must be a number of microseconds from 0");
    refused(sum_infinite, "sum_us must be");
    refused(sum_str, "sum_us must be");
    refused(sum_too_small, "sum_us 5 is not a sum the buckets allow");
    refused(by_code_array, "by_code must be a map");
    refused(by_code_short, "by_code adds up to 1 errors, not 2");
    refused(by_code_zero, "by_code's keys must be error codes from 1 to 31");
    refused(by_code_big, "by_code's keys must be error codes");
    refused(by_code_word, "by_code's keys must be error codes");
    refused(by_code_padded, "by_code's keys must be error codes");
    refused(by_code_negative, "a count of by_code must be a whole number from 0");
    refused(buckets_map, "buckets must be an array of 15 counts");
    refused(buckets_short, "buckets must be an array of 15 counts");
    refused(buckets_over, "buckets must be an array of 15 counts");
    refused(buckets_sum, "buckets add up to 3 calls, not 2");
    bay__callstat out;
    bay_error err;
    bay_value *array = bay_array();
    cr_assert_eq(bay__callstat_from_value(array, 1000, &out, &err), BAY_EPROTO);
    cr_assert_str_eq(err.message, "it is not a map");
    bay_value_free(array);
}

Test(callstat, a_sum_of_times_the_buckets_cannot_hold_is_refused)
{
    bay__callstat s = {0}, out;
    for (int i = 0; i < 1000; i++)
        bay__callstat_add(&s, 0, 9.999999); /* a sum rounded as the worker's additions round it */
    bay_value *v = bay__callstat_value(&s);
    bay_error err;
    cr_assert_eq(bay__callstat_from_value(v, 1000, &out, &err), 0, "%s", err.message);
    bay_map_set(v, "sum_us", bay_float(1e9)); /* 1,000 calls of at most 10 µs */
    cr_assert_eq(bay__callstat_from_value(v, 1000, &out, &err), BAY_EPROTO);
    cr_assert_str_eq(err.message, "sum_us 1000000000 is not a sum the buckets allow");
    bay_value_free(v);
}
