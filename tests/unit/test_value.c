/* tests/unit/test_value.c — unit tests of the bay_value tree, its msgpack and JSON forms, and the error API. */
#include <criterion/criterion.h>

#include <plugbay/error.h>
#include <plugbay/value.h>

#include "value_convert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hostile msgpack makes msgpack-c ask for huge blocks; under ASan, return NULL
 * from malloc as the C library would, instead of aborting the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* Under LeakSanitizer a test that leaks aborts in its teardown: criterion then
 * warns that it "crashed during its setup or teardown" and exits non-zero.
 * (Criterion ignores assertions in .fini and leaks reported at exit.) */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
        abort();
}
TestSuite(value, .fini = no_leaks);
TestSuite(msgpack, .fini = no_leaks);
TestSuite(json, .fini = no_leaks);
TestSuite(error, .fini = no_leaks);

/* sample_tree builds {"name": "bay", "n": -42, "list": [1, 0.5, true, nil, {}],
 * "blob": <bin 00 ff 00>, "nul": "a\0b", "empty": []}. */
static bay_value *sample_tree(void)
{
    bay_value *list = bay_array();
    bay_array_push(list, bay_int(1));
    bay_array_push(list, bay_float(0.5));
    bay_array_push(list, bay_bool(true));
    bay_array_push(list, bay_nil());
    bay_array_push(list, bay_map());
    bay_value *m = bay_map();
    bay_map_set(m, "name", bay_str("bay"));
    bay_map_set(m, "n", bay_int(-42));
    bay_map_set(m, "list", list);
    bay_map_set(m, "blob", bay_bin("\0\xff\0", 3));
    bay_map_set(m, "nul", bay_strn("a\0b", 3));
    bay_map_set(m, "empty", bay_array());
    return m;
}

/* round_trip packs v, unpacks it, checks the result equals v and returns it. */
static bay_value *round_trip(const bay_value *v)
{
    void *buf;
    size_t len;
    cr_assert_eq(bay_value_pack(v, &buf, &len), 0);
    bay_value *back = NULL;
    char err[256] = "";
    int rc = bay_value_unpack(buf, len, &back, err, sizeof err);
    free(buf);
    cr_assert_eq(rc, 0, "unpack failed: %s", err);
    cr_assert(bay_value_equal(v, back), "round trip changed the value");
    return back;
}

/* refused unpacks len bytes, expects BAY_EPROTO with *out reset to NULL, and
 * checks the reason contains want. */
static void refused(const void *bytes, size_t len, const char *want)
{
    bay_value *out = (bay_value *)&out; /* any non-NULL pointer */
    char err[256] = "";
    cr_assert_eq(bay_value_unpack(bytes, len, &out, err, sizeof err), BAY_EPROTO);
    cr_assert_null(out);
    cr_assert(strstr(err, want), "reason \"%s\" lacks \"%s\"", err, want);
}

/* json_refused parses text, expects BAY_EINVAL with *out reset to NULL, and
 * checks the reason contains want. */
static void json_refused(const char *text, const char *want)
{
    bay_value *out = (bay_value *)&out; /* any non-NULL pointer */
    char err[256] = "";
    cr_assert_eq(bay_value_from_json(text, &out, err, sizeof err), BAY_EINVAL, "%s", text);
    cr_assert_null(out);
    cr_assert(strstr(err, want), "reason \"%s\" lacks \"%s\"", err, want);
}

/* unrenderable expects v to have no JSON form: BAY_EINVAL from bay_value_to_json,
 * and NULL from bay__value_to_jansson with a reason containing want. Frees v. */
static void unrenderable(bay_value *v, const char *want)
{
    char *text = (char *)"untouched";
    cr_assert_eq(bay_value_to_json(v, &text), BAY_EINVAL);
    cr_assert_null(text);
    bay_error err;
    cr_assert_null(bay__value_to_jansson(v, &err));
    cr_assert(strstr(err.message, want), "reason \"%s\" lacks \"%s\"", err.message, want);
    bay_value_free(v);
}

/* nested_arrays writes depth one-item arrays around a nil into buf; returns the length. */
static size_t nested_arrays(unsigned char *buf, int depth)
{
    memset(buf, 0x91, (size_t)depth);
    buf[depth] = 0xc0;
    return (size_t)depth + 1;
}

/* ---- the tree ---- */

Test(value, scalars_keep_their_values)
{
    bay_value *n = bay_nil(), *b = bay_bool(true), *i = bay_int(-7), *f = bay_float(2.25);
    cr_assert_eq(bay_value_type(n), BAY_NIL);
    cr_assert_eq(bay_value_type(b), BAY_BOOL);
    cr_assert(bay_value_bool(b));
    cr_assert_eq(bay_value_type(i), BAY_INT);
    cr_assert_eq(bay_value_int(i), -7);
    cr_assert_eq(bay_value_type(f), BAY_FLOAT);
    cr_assert_eq(bay_value_float(f), 2.25);
    bay_value_free(n);
    bay_value_free(b);
    bay_value_free(i);
    bay_value_free(f);
}

Test(value, getters_of_another_type_return_zero)
{
    bay_value *s = bay_str("x"), *i = bay_int(3);
    size_t len = 99;
    cr_assert_eq(bay_value_int(s), 0);
    cr_assert_not(bay_value_bool(i));
    cr_assert_null(bay_value_str(i, &len));
    cr_assert_eq(len, 0);
    cr_assert_eq(bay_value_float(i), 3.0, "an int converts to float");
    cr_assert_eq(bay_value_float(s), 0.0);
    cr_assert_eq(bay_value_len(i), 0);
    cr_assert_null(bay_array_get(s, 0));
    cr_assert_null(bay_map_get(s, "x"));
    cr_assert_eq(bay_value_type(NULL), BAY_NIL);
    bay_value_free(s);
    bay_value_free(i);
}

Test(value, strings_keep_length_and_nul_terminator)
{
    bay_value *s = bay_strn("a\0b", 3), *b = bay_bin("\0\1", 2), *e = bay_strn(NULL, 0);
    size_t len;
    const char *p = bay_value_str(s, &len);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(p, "a\0b", 4), 0, "bytes plus the terminating NUL");
    p = bay_value_str(b, &len);
    cr_assert_eq(bay_value_type(b), BAY_BIN);
    cr_assert_eq(len, 2);
    cr_assert_eq(p[2], '\0');
    cr_assert_str_eq(bay_value_str(e, NULL), "");
    cr_assert_null(bay_str(NULL));
    cr_assert_null(bay_strn(NULL, 1));
    bay_value_free(s);
    bay_value_free(b);
    bay_value_free(e);
}

Test(value, type_names)
{
    const char *want[] = {"nil", "bool", "int", "float", "str", "bin", "array", "map"};
    for (int t = BAY_NIL; t <= BAY_MAP; t++)
        cr_assert_str_eq(bay_type_name((bay_type)t), want[t]);
}

Test(value, array_grows_and_keeps_order)
{
    bay_value *a = bay_array();
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(bay_array_push(a, bay_int(i)), 0);
    cr_assert_eq(bay_value_len(a), 1000);
    for (size_t i = 0; i < 1000; i++)
        cr_assert_eq(bay_value_int(bay_array_get(a, i)), (int64_t)i);
    cr_assert_null(bay_array_get(a, 1000));
    bay_value_free(a);
}

/* Under ASan a leak here fails the test: push takes the item even when it refuses it. */
Test(value, array_push_refuses_and_frees_the_item)
{
    bay_value *m = bay_map();
    cr_assert_eq(bay_array_push(m, bay_str("lost")), BAY_EINVAL);
    cr_assert_eq(bay_array_push(NULL, bay_int(1)), BAY_EINVAL);
    bay_value *a = bay_array();
    cr_assert_eq(bay_array_push(a, NULL), BAY_EINVAL);
    cr_assert_eq(bay_value_len(a), 0);
    bay_value_free(m);
    bay_value_free(a);
}

Test(value, map_set_replaces_in_place)
{
    bay_value *m = bay_map();
    bay_map_set(m, "a", bay_int(1));
    bay_map_set(m, "b", bay_int(2));
    bay_map_set(m, "c", bay_int(3));
    cr_assert_eq(bay_map_set(m, "b", bay_str("two")), 0);
    cr_assert_eq(bay_value_len(m), 3);
    const bay_value *v;
    cr_assert_str_eq(bay_map_entry(m, 0, &v), "a");
    cr_assert_str_eq(bay_map_entry(m, 1, &v), "b");
    cr_assert_str_eq(bay_value_str(v, NULL), "two");
    cr_assert_str_eq(bay_map_entry(m, 2, NULL), "c");
    cr_assert_null(bay_map_entry(m, 3, &v));
    cr_assert_null(v);
    cr_assert_null(bay_map_get(m, "d"));
    bay_value_free(m);
}

Test(value, large_map_finds_every_key)
{
    bay_value *m = bay_map();
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        cr_assert_eq(bay_map_set(m, key, bay_int(i)), 0);
    }
    cr_assert_eq(bay_map_set(m, "key1500", bay_int(-1)), 0);
    cr_assert_eq(bay_value_len(m), 2000);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        cr_assert_eq(bay_value_int(bay_map_get(m, key)), i == 1500 ? -1 : i, "%s", key);
        cr_assert_str_eq(bay_map_entry(m, (size_t)i, NULL), key, "insertion order");
    }
    cr_assert_null(bay_map_get(m, "key2000"));
    bay_value_free(m);
}

Test(value, map_set_refuses_and_frees_the_value)
{
    bay_value *a = bay_array(), *m = bay_map();
    cr_assert_eq(bay_map_set(a, "k", bay_str("lost")), BAY_EINVAL);
    cr_assert_eq(bay_map_set(m, NULL, bay_str("lost")), BAY_EINVAL);
    cr_assert_eq(bay_map_set(m, "k", NULL), BAY_EINVAL);
    cr_assert_eq(bay_value_len(m), 0);
    bay_value_free(a);
    bay_value_free(m);
}

Test(value, map_add_refuses_duplicates_and_nul_bytes)
{
    bay_value *m = bay_map();
    bay_error err;
    cr_assert_eq(bay__map_add(m, "k", 1, bay_int(1), &err), 0);
    cr_assert_eq(bay__map_add(m, "k", 1, bay_int(2), &err), BAY_EINVAL);
    cr_assert_str_eq(err.message, "duplicate map key \"k\"");
    cr_assert_eq(bay__map_add(m, "a\0b", 3, bay_int(3), &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "NUL byte"));
    cr_assert_eq(bay_value_len(m), 1);
    bay_value_free(m);
}

Test(value, copy_is_deep)
{
    bay_value *t = sample_tree();
    bay_value *c = bay_value_copy(t);
    cr_assert(bay_value_equal(t, c));
    cr_assert_neq(bay_map_get(t, "list"), bay_map_get(c, "list"), "no shared items");
    bay_map_set(c, "name", bay_str("changed"));
    cr_assert_not(bay_value_equal(t, c));
    cr_assert_str_eq(bay_value_str(bay_map_get(t, "name"), NULL), "bay");
    bay_value_free(t);
    bay_value_free(c);
}

Test(value, equal_compares_floats_bitwise)
{
    bay_value *z = bay_float(0.0), *nz = bay_float(-0.0), *nan1 = bay_float(NAN);
    bay_value *nan2 = bay_value_copy(nan1), *i = bay_int(1), *f = bay_float(1.0);
    cr_assert_not(bay_value_equal(z, nz), "0.0 and -0.0 differ");
    cr_assert(bay_value_equal(nan1, nan2), "a NaN equals its copy");
    cr_assert_not(bay_value_equal(i, f), "int 1 is not float 1.0");
    bay_value *ab = bay_str("ab"), *abc = bay_str("abc"), *bin = bay_bin("ab", 2);
    cr_assert_not(bay_value_equal(ab, abc), "lengths differ");
    cr_assert_not(bay_value_equal(abc, ab), "lengths differ");
    cr_assert_not(bay_value_equal(ab, bin), "str is not bin");
    bay_value_free(ab);
    bay_value_free(abc);
    bay_value_free(bin);
    cr_assert(bay_value_equal(NULL, NULL));
    cr_assert_not(bay_value_equal(z, NULL));
    bay_value *vals[] = {z, nz, nan1, nan2, i, f};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
        bay_value_free(vals[k]);
}

Test(value, equal_maps_ignore_insertion_order)
{
    bay_value *a = bay_map(), *b = bay_map();
    bay_map_set(a, "x", bay_int(1));
    bay_map_set(a, "y", bay_int(2));
    bay_map_set(b, "y", bay_int(2));
    bay_map_set(b, "x", bay_int(1));
    cr_assert(bay_value_equal(a, b));
    bay_value *c = bay_map();
    bay_map_set(c, "x", bay_int(1));
    bay_map_set(c, "z", bay_int(2));
    cr_assert_not(bay_value_equal(a, c), "same length, another key");
    bay_map_set(b, "x", bay_int(3));
    cr_assert_not(bay_value_equal(a, b));
    bay_value_free(a);
    bay_value_free(b);
    bay_value_free(c);
}

/* ---- msgpack ---- */

Test(msgpack, encodes_the_standard_bytes)
{
    bay_value *m = bay_map();
    bay_map_set(m, "a", bay_int(1));
    void *buf;
    size_t len;
    cr_assert_eq(bay_value_pack(m, &buf, &len), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(memcmp(buf, "\x81\xa1" "a\x01", 4), 0);
    free(buf);
    bay_value_free(m);
    cr_assert_eq(bay_value_pack(NULL, &buf, &len), BAY_EINVAL);
}

Test(msgpack, nested_tree_round_trips)
{
    bay_value *t = sample_tree();
    bay_value *back = round_trip(t);
    size_t len;
    const char *blob = bay_value_str(bay_map_get(back, "blob"), &len);
    cr_assert_eq(bay_value_type(bay_map_get(back, "blob")), BAY_BIN);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(blob, "\0\xff\0", 3), 0);
    cr_assert_str_eq(bay_map_entry(back, 0, NULL), "name", "key order kept");
    bay_value_free(t);
    bay_value_free(back);
}

Test(msgpack, integers_round_trip_at_every_width)
{
    const int64_t ints[] = {INT64_MIN, INT64_MAX, 0, -1, -32, -33, -129, -32769,
                            -2147483649LL, 127, 128, 255, 256, 65535, 65536, 4294967296LL};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        bay_value *v = bay_int(ints[k]);
        bay_value *back = round_trip(v);
        cr_assert_eq(bay_value_int(back), ints[k]);
        bay_value_free(v);
        bay_value_free(back);
    }
}

Test(msgpack, floats_round_trip_exactly)
{
    const double floats[] = {0.5, -0.0, 1e300, -1e-300, 0.1};
    for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
        bay_value *v = bay_float(floats[k]);
        bay_value *back = round_trip(v);
        double d = bay_value_float(back);
        cr_assert_eq(bay_value_type(back), BAY_FLOAT);
        cr_assert_eq(memcmp(&floats[k], &d, sizeof d), 0, "bits of %g", floats[k]);
        bay_value_free(v);
        bay_value_free(back);
    }
}

Test(msgpack, float32_becomes_float)
{
    bay_value *v;
    cr_assert_eq(bay_value_unpack("\xca\x3f\x00\x00\x00", 5, &v, NULL, 0), 0);
    cr_assert_eq(bay_value_type(v), BAY_FLOAT);
    cr_assert_eq(bay_value_float(v), 0.5);
    bay_value_free(v);
}

Test(msgpack, empty_key_string_and_binary_decode)
{
    /* {"": "", "b": bin(0)}: msgpack-c hands each empty body over as (NULL, 0). */
    bay_value *v = NULL;
    char err[256] = "";
    cr_assert_eq(bay_value_unpack("\x82\xa0\xa0\xa1" "b\xc4\x00", 7, &v, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bay_value_len(v), 2);
    cr_assert_str_eq(bay_map_entry(v, 0, NULL), "");
    size_t len = 99;
    const bay_value *s = bay_map_get(v, "");
    cr_assert_eq(bay_value_type(s), BAY_STR);
    cr_assert_str_eq(bay_value_str(s, &len), "");
    cr_assert_eq(len, 0);
    const bay_value *b = bay_map_get(v, "b");
    cr_assert_eq(bay_value_type(b), BAY_BIN);
    cr_assert_not_null(bay_value_str(b, &len));
    cr_assert_eq(len, 0);
    bay_value_free(round_trip(v));
    bay_value_free(v);
}

Test(msgpack, uint64_beyond_int64_is_refused)
{
    refused("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9,
            "integer 18446744073709551615 is beyond int64");
    refused("\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9, "9223372036854775808 is beyond int64");
}

Test(msgpack, non_string_key_is_refused)
{
    refused("\x81\x03\xc0", 3, "map key 0 is int; map keys must be strings");
    refused("\x82\xa1" "a\xc0\xc4\x01" "b\xc0", 8, "map key 1 is bin");
}

Test(msgpack, duplicate_or_nul_key_is_refused)
{
    refused("\x82\xa1" "a\x01\xa1" "a\x02", 7, "duplicate map key \"a\"");
    refused("\x81\xa3" "a\0b\xc0", 6, "NUL byte");
}

Test(msgpack, ext_is_refused)
{
    refused("\xd4\x05\x00", 3, "ext type 5 is not supported");
}

Test(msgpack, from_object_refuses_depth_65)
{
    msgpack_object chain[65];
    for (int n = 64; n <= 65; n++) {
        for (int i = 0; i < n; i++) {
            chain[i].type = MSGPACK_OBJECT_ARRAY;
            chain[i].via.array.size = i + 1 < n;
            chain[i].via.array.ptr = &chain[i + 1];
        }
        bay_value *v;
        bay_error err;
        int rc = bay__value_from_object(&chain[0], &v, &err);
        if (n == 64) {
            cr_assert_eq(rc, 0, "64 levels are allowed: %s", err.message);
            bay_value_free(v);
        } else {
            cr_assert_eq(rc, BAY_EPROTO);
            cr_assert_null(v);
            cr_assert(strstr(err.message, "deeper than 64 levels"), "%s", err.message);
        }
    }
}

Test(msgpack, unpack_nesting_limits)
{
    unsigned char buf[80];
    bay_value *v;
    cr_assert_eq(bay_value_unpack(buf, nested_arrays(buf, 32), &v, NULL, 0), 0);
    bay_value_free(v);
    refused(buf, nested_arrays(buf, 65), "nesting deeper");
}

Test(msgpack, every_prefix_is_truncated)
{
    bay_value *t = sample_tree();
    void *buf;
    size_t len;
    cr_assert_eq(bay_value_pack(t, &buf, &len), 0);
    for (size_t n = 0; n < len; n++)
        refused(buf, n, "truncated msgpack");
    free(buf);
    bay_value_free(t);
}

Test(msgpack, trailing_bytes_are_refused)
{
    refused("\xc0\xc0\xc0", 3, "2 trailing bytes after the value");
}

Test(msgpack, garbage_is_refused)
{
    refused("\xc1", 1, "malformed msgpack at byte 0");
    refused("\x92\x01\xc1", 3, "malformed msgpack at byte 2");
}

Test(msgpack, huge_declared_count_is_refused)
{
    refused("\xdd\xff\xff\xff\xff", 5, "msgpack");
    refused("\xdf\xff\xff\xff\xff", 5, "msgpack");
}

/* Random bytes either decode to a value that re-encodes to an equal value, or
 * are refused. 32-bit array and map counts (0xdd, 0xdf) become 16-bit ones:
 * msgpack-c reserves up to 256 GB for them up front, which is slow under ASan
 * (huge_declared_count_is_refused covers them). */
Test(msgpack, random_bytes_never_crash)
{
    unsigned char buf[24];
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + (size_t)round % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (unsigned char)(seed >> 16);
            if (buf[i] == 0xdd || buf[i] == 0xdf)
                buf[i]--;
        }
        bay_value *v = NULL;
        int rc = bay_value_unpack(buf, len, &v, NULL, 0);
        cr_assert(rc == 0 || rc == BAY_EPROTO, "round %d gave %d", round, rc);
        cr_assert_eq(rc == 0, v != NULL);
        if (v)
            bay_value_free(round_trip(v));
        bay_value_free(v);
    }
}

/* ---- JSON ---- */

Test(json, renders_compact_in_insertion_order)
{
    bay_value *t = sample_tree();
    char *text;
    cr_assert_eq(bay_value_to_json(t, &text), 0);
    cr_assert_str_eq(text, "{\"name\":\"bay\",\"n\":-42,\"list\":[1,0.5,true,null,{}],"
                           "\"blob\":\"base64:AP8A\",\"nul\":\"a\\u0000b\",\"empty\":[]}");
    free(text);
    bay_value_free(t);
}

Test(json, round_trips_without_binaries)
{
    const char *text = "{\"s\":\"a\\u0000b\",\"i\":-9223372036854775808,\"max\":9223372036854775807,"
                       "\"f\":-0.0,\"big\":1e300,\"list\":[true,false,null,{\"k\":[]}]}";
    bay_value *v;
    char err[128] = "";
    cr_assert_eq(bay_value_from_json(text, &v, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bay_value_int(bay_map_get(v, "i")), INT64_MIN);
    cr_assert_eq(bay_value_int(bay_map_get(v, "max")), INT64_MAX);
    cr_assert(signbit(bay_value_float(bay_map_get(v, "f"))));
    size_t len;
    bay_value_str(bay_map_get(v, "s"), &len);
    cr_assert_eq(len, 3, "embedded NUL kept");
    char *out;
    cr_assert_eq(bay_value_to_json(v, &out), 0);
    bay_value *back;
    cr_assert_eq(bay_value_from_json(out, &back, NULL, 0), 0);
    cr_assert(bay_value_equal(v, back), "%s", out);
    free(out);
    bay_value_free(v);
    bay_value_free(back);
}

Test(json, integers_and_reals_keep_their_type)
{
    const char *texts[] = {"1", "1.0", "1e2", "\"1\""};
    const bay_type types[] = {BAY_INT, BAY_FLOAT, BAY_FLOAT, BAY_STR};
    for (size_t k = 0; k < 4; k++) {
        bay_value *v;
        cr_assert_eq(bay_value_from_json(texts[k], &v, NULL, 0), 0);
        cr_assert_eq(bay_value_type(v), types[k], "%s", texts[k]);
        bay_value_free(v);
    }
}

Test(json, syntax_error_names_line_and_column)
{
    json_refused("{\n  \"a\": }", "line 2 column 8: ");
}

Test(json, integer_beyond_int64_is_refused)
{
    json_refused("[18446744073709551616]", "line 1 column 21: too big integer");
}

Test(json, nan_and_infinity_are_refused)
{
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < 3; k++) {
        bay_value *a = bay_array();
        bay_array_push(a, bay_float(bad[k]));
        unrenderable(a, "no JSON form");
    }
}

Test(json, binary_becomes_base64_string)
{
    bay_value *b = bay_bin("\0\1\2", 3);
    char *text;
    cr_assert_eq(bay_value_to_json(b, &text), 0);
    cr_assert_str_eq(text, "\"base64:AAEC\"");
    free(text);
    bay_value_free(b);
}

Test(json, invalid_utf8_is_refused)
{
    unrenderable(bay_strn("\xff", 1), "string is not valid UTF-8");
    bay_value *m = bay_map();
    bay_map_set(m, "\xc3", bay_nil());
    unrenderable(m, "map key \"\xc3\" is not valid UTF-8");
}

Test(json, nul_in_object_key_is_refused)
{
    json_refused("{\"a\\u0000b\":1}", "NUL byte");
    bay_value *v;
    bay_error err;
    json_t *o = json_object(); /* jansson objects built in code may hold such keys */
    json_object_setn_new(o, "a\0b", 3, json_integer(1));
    cr_assert_eq(bay__value_from_jansson(o, &v, &err), BAY_EINVAL);
    cr_assert_null(v);
    cr_assert(strstr(err.message, "map key holds a NUL byte"), "%s", err.message);
    json_decref(o);
}

Test(json, nesting_deeper_than_64_is_refused)
{
    char text[200];
    for (int n = 64; n <= 65; n++) {
        memset(text, '[', (size_t)n);
        memset(text + n, ']', (size_t)n);
        text[2 * n] = '\0';
        bay_value *v;
        char err[128] = "";
        int rc = bay_value_from_json(text, &v, err, sizeof err);
        cr_assert_eq(rc, n == 64 ? 0 : BAY_EINVAL, "%d levels: %s", n, err);
        bay_value_free(v);
    }
}

/* ---- errors ---- */

Test(error, names_and_descriptions)
{
    cr_assert_str_eq(bay_errname(BAY_ETIMEDOUT), "BAY_ETIMEDOUT");
    cr_assert_str_eq(bay_errname(BAY_OK), "BAY_OK");
    cr_assert_str_eq(bay_errname(BAY_EKIND), "BAY_EKIND");
    for (int code = BAY_OK; code <= BAY_ENOSPC; code++) {
        cr_assert_eq(strncmp(bay_errname(code), "BAY_", 4), 0);
        cr_assert_neq(strcmp(bay_errname(code), "BAY_E?"), 0, "code %d has a name", code);
        cr_assert_neq(strcmp(bay_strerror(code), "unknown plugbay error"), 0, "code %d", code);
    }
    cr_assert_str_eq(bay_strerror(-1), "unknown plugbay error");
    cr_assert_str_eq(bay_strerror(BAY_ENOSPC + 1), "unknown plugbay error");
    cr_assert_str_eq(bay_errname(999), "BAY_E?");
}

Test(error, codes_by_name)
{
    for (int code = BAY_EINVAL; code <= BAY_ENOSPC; code++)
        cr_assert_eq(bay_errcode(bay_errname(code)), code, "%s", bay_errname(code));
    cr_assert_eq(bay_errcode("BAY_OK"), 0);
    cr_assert_eq(bay_errcode("BAY_E?"), 0);
    cr_assert_eq(bay_errcode("bay_einval"), 0, "names are matched exactly");
    cr_assert_eq(bay_errcode(""), 0);
    cr_assert_eq(bay_errcode(NULL), 0);
}

Test(error, set_fills_and_truncates)
{
    bay_error e;
    cr_assert_eq(bay_error_set(&e, BAY_EMANIFEST, NULL, "field \"%s\" is missing", "id"),
                 BAY_EMANIFEST);
    cr_assert_eq(e.code, BAY_EMANIFEST);
    cr_assert_str_eq(e.plugin, "");
    cr_assert_str_eq(e.message, "field \"id\" is missing");
    char longer[1000];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    bay_error_set(&e, BAY_EPLUGIN, longer, "%s", longer);
    cr_assert_eq(strlen(e.plugin), sizeof e.plugin - 1);
    cr_assert_eq(strlen(e.message), sizeof e.message - 1);
    cr_assert_eq(bay_error_set(NULL, BAY_EIO, "p", "ignored"), BAY_EIO);
}

/* wrap puts v inside n arrays. */
static bay_value *wrap(bay_value *v, int n)
{
    for (int i = 0; i < n; i++) {
        bay_value *a = bay_array();
        bay_array_push(a, v);
        v = a;
    }
    return v;
}

Test(value, nests_deeper_counts_arrays_and_maps_from_the_value_itself)
{
    cr_assert_not(bay__value_nests_deeper(NULL, 0));
    bay_value *scalar = bay_int(1);
    cr_assert_not(bay__value_nests_deeper(scalar, 0), "a scalar is no level");
    bay_value_free(scalar);
    bay_value *m = bay_map();
    bay_map_set(m, "k", wrap(bay_str("x"), 3));
    bay_value *v = wrap(m, 2); /* [[{"k": [[["x"]]]}]]: 6 levels */
    cr_assert_not(bay__value_nests_deeper(v, 6));
    cr_assert(bay__value_nests_deeper(v, 5));
    bay_value *wide = bay_array(); /* the deep item last: every item is looked at */
    bay_array_push(wide, bay_array());
    bay_array_push(wide, v);
    cr_assert(bay__value_nests_deeper(wide, 6));
    cr_assert_not(bay__value_nests_deeper(wide, 7));
    bay_value_free(wide);
}
