/* tests/e2e/test_ffi.c — library bindings: results equal the library called directly; mistakes get clear errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"example/hello", "example/zlib", "example/libm", "ffi/types", "ffi/crash", "ffi/badtype",
                         "ffi/nosymbol", "ffi/nolength", "ffi/nolibrary", "ffi/nosignature", "ffi/twins",
                         "ffi/badtimer", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-ffi");
    for (size_t i = 0; i < 5; i++)
        cr_assert(h_wait_state(c, ids[i], "loaded", H_WAIT_MS), "%s did not load", ids[i]);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(ffi, .init = start, .fini = stop, .timeout = 120);

/* call calls ext with args (taken) and returns the code; *res gets the result (freed by the caller). */
static int call(const char *ext, bay_value *args, bay_value **res, bay_error *err)
{
    *res = NULL;
    int rc = bay_call(c, ext, args, NULL, res, err);
    bay_value_free(args);
    return rc;
}

/* args builds an argument array from JSON text. */
static bay_value *args(const char *json)
{
    bay_value *v = NULL;
    char why[128];
    cr_assert_eq(bay_value_from_json(json, &v, why, sizeof why), 0, "%s: %s", json, why);
    return v;
}

/* args2 builds [a, b], taking both. */
static bay_value *args2(bay_value *a, bay_value *b)
{
    bay_value *v = bay_array();
    bay_array_push(v, a);
    bay_array_push(v, b);
    return v;
}

/* call_ok calls ext with args (taken), asserts success and returns the result. */
static bay_value *call_ok(const char *ext, bay_value *a)
{
    bay_value *res;
    bay_error err;
    int rc = call(ext, a, &res, &err);
    cr_assert_eq(rc, 0, "%s: %s: %s", ext, bay_errname(rc), err.message);
    return res;
}

/* refused asserts that ext(args) fails with code and a message holding each NULL-terminated needle. */
static void refused(const char *ext, bay_value *a, int code, const char *const *needles)
{
    bay_value *res;
    bay_error err;
    int rc = call(ext, a, &res, &err);
    cr_assert_eq(rc, code, "%s: expected %s, got %s: %s", ext, bay_errname(code), bay_errname(rc), err.message);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(strstr(err.message, needles[i]), "%s: the message lacks \"%s\": %s", ext, needles[i], err.message);
    bay_value_free(res);
}

#define REFUSED(ext, a, code, ...) refused(ext, a, code, (const char *const[]){__VA_ARGS__, NULL})

/* others_answer checks that a native C plugin and a binding both still serve. */
static void others_answer(void)
{
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "ffi", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, ffi!");
    bay_value *v = call_ok("zlib.adler32", args("[1, \"ffi\"]"));
    cr_assert_eq(bay_value_int(v), (int64_t)adler32(1, (const Bytef *)"ffi", 3));
    bay_value_free(v);
}

Test(ffi, zlib_checksums_equal_zlib_called_directly)
{
    unsigned char data[1024];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);
    uLong crc = crc32(0, data, sizeof data), adler = adler32(1, data, sizeof data);
    bay_value *v = call_ok("zlib.crc32", args2(bay_int(0), bay_bin(data, sizeof data)));
    cr_assert_eq(bay_value_int(v), (int64_t)crc);
    bay_value_free(v);
    v = call_ok("zlib.adler32", args2(bay_int(1), bay_bin(data, sizeof data)));
    cr_assert_eq(bay_value_int(v), (int64_t)adler);
    bay_value_free(v);
    /* Chained over a str, as a running checksum is. */
    v = call_ok("zlib.crc32", args2(bay_int((int64_t)crc), bay_str("more")));
    cr_assert_eq(bay_value_int(v), (int64_t)crc32(crc, (const Bytef *)"more", 4));
    bay_value_free(v);
    v = call_ok("zlib.crc32", args2(bay_int(0), bay_bin("", 0)));
    cr_assert_eq(bay_value_int(v), 0);
    bay_value_free(v);
    v = call_ok("zlib.version", args("[]"));
    cr_assert_str_eq(bay_value_str(v, NULL), zlibVersion());
    bay_value_free(v);
}

Test(ffi, libm_functions_equal_libm_called_directly)
{
    const double xs[] = {0, 0.5, -3, 1e-300, 1234.5678, M_PI};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        bay_value *a = bay_array();
        bay_array_push(a, bay_float(xs[i]));
        bay_value *v = call_ok("math.cos", a);
        cr_assert_eq(bay_value_type(v), BAY_FLOAT);
        cr_assert(bay_value_float(v) == cos(xs[i]), "cos(%g): %.17g, libm says %.17g", xs[i], bay_value_float(v),
                  cos(xs[i]));
        bay_value_free(v);
    }
    volatile double x = 2.5, y = -1.5;
    bay_value *v = call_ok("math.pow", args("[2.5, -1.5]"));
    cr_assert(bay_value_float(v) == pow(x, y), "%.17g vs %.17g", bay_value_float(v), pow(x, y));
    bay_value_free(v);
    v = call_ok("math.pow", args("[2, 10]")); /* ints convert to the declared double */
    cr_assert(bay_value_float(v) == 1024.0);
    bay_value_free(v);
    int e;
    double m = frexp(1000.0, &e);
    v = call_ok("math.frexp", args("[1000]"));
    cr_assert_eq(bay_value_len(v), 2, "[mantissa, exp]");
    cr_assert(bay_value_float(bay_array_get(v, 0)) == m);
    cr_assert_eq(bay_value_int(bay_array_get(v, 1)), e);
    bay_value_free(v);
}

Test(ffi, every_integer_width_takes_its_range_and_refuses_one_beyond)
{
    const struct {
        const char *ext, *label;
        int64_t min, max;
        bool one_below; /* min - 1 fits an int64, so it can be tried */
    } widths[] = {
        {"types.i8", "int8 x", INT8_MIN, INT8_MAX, true},
        {"types.i16", "int16 x", INT16_MIN, INT16_MAX, true},
        {"types.i32", "int32 x", INT32_MIN, INT32_MAX, true},
        {"types.i64", "int64 x", INT64_MIN, INT64_MAX, false},
        {"types.u8", "uint8 x", 0, UINT8_MAX, true},
        {"types.u16", "uint16 x", 0, UINT16_MAX, true},
        {"types.u32", "uint32 x", 0, UINT32_MAX, true},
        {"types.u64", "uint64 x", 0, INT64_MAX, true},
    };
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        const int64_t edges[] = {widths[i].min, widths[i].max, widths[i].min / 2 + widths[i].max / 2};
        for (size_t k = 0; k < 3; k++) {
            bay_value *a = bay_array();
            bay_array_push(a, bay_int(edges[k]));
            bay_value *v = call_ok(widths[i].ext, a);
            cr_assert_eq(bay_value_int(v), edges[k], "%s(%lld)", widths[i].ext, (long long)edges[k]);
            bay_value_free(v);
        }
        char range[96];
        snprintf(range, sizeof range, "from %lld to %lld", (long long)widths[i].min, (long long)widths[i].max);
        if (widths[i].max < INT64_MAX) {
            bay_value *a = bay_array();
            bay_array_push(a, bay_int(widths[i].max + 1));
            REFUSED(widths[i].ext, a, BAY_EINVAL, widths[i].label, range, "not truncated");
        }
        if (widths[i].one_below) {
            bay_value *a = bay_array();
            bay_array_push(a, bay_int(widths[i].min - 1));
            REFUSED(widths[i].ext, a, BAY_EINVAL, widths[i].label, range);
        }
    }
    REFUSED("types.u64max", args("[]"), BAY_EINVAL, "uint64", "18446744073709551615", "2^63-1");
    bay_value *v = call_ok("types.i8", args("[-128]"));
    cr_assert_eq(bay_value_int(v), -128, "the plugin still answers after its refusals");
    bay_value_free(v);
}

Test(ffi, bools_floats_and_many_parameters_reach_the_function)
{
    bay_value *v = call_ok("types.negate", args("[false]"));
    cr_assert_eq(bay_value_type(v), BAY_BOOL);
    cr_assert(bay_value_bool(v));
    bay_value_free(v);
    v = call_ok("types.half", args("[3]"));
    cr_assert(bay_value_float(v) == 1.5);
    bay_value_free(v);
    v = call_ok("types.mix", args("[-1, 65535, -100000, 9007199254740992, 0.5, 0.25, true, -4000000000]"));
    cr_assert(bay_value_float(v) == -1.0 + 65535 - 100000 + 9007199254740992.0 + 0.5 + 0.25 + 1000 - 4000000000.0,
              "mix: %.17g", bay_value_float(v));
    bay_value_free(v);
    REFUSED("types.half", args("[1e39]"), BAY_EINVAL, "argument 1 (float f)", "for a float");
    REFUSED("types.mix", args("[0, 0, 0, 0, 0, 9007199254740993, true, 0]"), BAY_EINVAL, "argument 6 (double f)",
            "2^53");
    REFUSED("types.negate", args("[1]"), BAY_ETYPE, "argument 1 (bool b) must be a bool, got int");
}

Test(ffi, buffers_pass_their_length_and_a_length_type_too_small_is_refused)
{
    unsigned char data[300];
    memset(data, 'a', sizeof data);
    data[10] = data[20] = 0;
    bay_value *a = args2(bay_bin(data, sizeof data), bay_int(0));
    bay_value *v = call_ok("types.count", a);
    cr_assert_eq(bay_value_int(v), 2, "bytes after a NUL reach the function");
    bay_value_free(v);
    v = call_ok("types.count", args("[\"banana\", 97]"));
    cr_assert_eq(bay_value_int(v), 3, "a str passes as bytes");
    bay_value_free(v);
    a = bay_array();
    bay_array_push(a, bay_bin(data, 255));
    v = call_ok("types.short", a);
    cr_assert_eq(bay_value_int(v), 255, "uint8 len(buf) holds 255");
    bay_value_free(v);
    a = bay_array();
    bay_array_push(a, bay_bin(data, 256));
    REFUSED("types.short", a, BAY_EINVAL, "argument 1 (bytes buf) is 256 bytes long", "(uint8) holds (255)");
}

Test(ffi, out_parameters_join_the_result)
{
    bay_value *v = call_ok("types.divmod", args("[17, 5]"));
    cr_assert_eq(bay_value_len(v), 2, "void result, two out parameters");
    cr_assert_eq(bay_value_int(bay_array_get(v, 0)), 3);
    cr_assert_eq(bay_value_int(bay_array_get(v, 1)), 2);
    bay_value_free(v);
    v = call_ok("types.word", args("[]"));
    cr_assert_eq(bay_value_len(v), 2);
    cr_assert_eq(bay_value_int(bay_array_get(v, 0)), 1);
    cr_assert_str_eq(bay_value_str(bay_array_get(v, 1), NULL), "first");
    bay_value_free(v);
}

Test(ffi, nullable_strings_take_nil_and_strings_with_nul_are_refused)
{
    bay_value *v = call_ok("types.name", args("[null]"));
    cr_assert_eq(bay_value_type(v), BAY_NIL, "NULL comes back as nil");
    bay_value_free(v);
    v = call_ok("types.name", args("[\"x\"]"));
    cr_assert_str_eq(bay_value_str(v, NULL), "named");
    bay_value_free(v);
    bay_value *a = bay_array();
    bay_array_push(a, bay_strn("a\0b", 3));
    REFUSED("types.name", a, BAY_EINVAL, "argument 1 (str? s)", "NUL byte at offset 1");
}

Test(ffi, wrong_argument_count_or_type_is_refused_and_the_plugin_stays_usable)
{
    REFUSED("zlib.crc32", args("[0, \"a\", \"b\"]"), BAY_ETYPE,
            "zlib.crc32 takes 2 arguments (ulong crc, bytes buf), got 3");
    REFUSED("zlib.crc32", args("[]"), BAY_ETYPE, "takes 2 arguments", "got 0");
    REFUSED("zlib.crc32", args("[0, 5]"), BAY_ETYPE, "argument 2 (bytes buf) must be a bin or a str, got int");
    REFUSED("zlib.crc32", args("[\"0\", \"x\"]"), BAY_ETYPE, "argument 1 (ulong crc) must be an int, got str");
    REFUSED("zlib.crc32", args("[1.5, \"x\"]"), BAY_ETYPE, "argument 1 (ulong crc) must be an int, got float");
    REFUSED("zlib.crc32", args("[-1, \"x\"]"), BAY_EINVAL, "argument 1 (ulong crc) must be an int from 0 to");
    REFUSED("math.cos", args("[\"1\"]"), BAY_ETYPE, "argument 1 (double x) must be a float or an int, got str");
    REFUSED("zlib.version", args("[1]"), BAY_ETYPE, "zlib.version takes 0 arguments (nothing), got 1");
    others_answer();
}

/* A plugin on its way to a state it stays in: loaded, failed or invalid. */
struct settling {
    const char *id;
    char state[64], reason[1024];
};

static bool settled(void *arg)
{
    struct settling *s = arg;
    h_plugin_state(c, s->id, s->state, sizeof s->state, s->reason, sizeof s->reason);
    return strcmp(s->state, "loaded") == 0 || strcmp(s->state, "failed") == 0 || strcmp(s->state, "invalid") == 0;
}

Test(ffi, mistakes_in_a_binding_manifest_fail_its_load_naming_the_field)
{
    const struct {
        const char *id, *needles[3];
    } cases[] = {
        {"ffi/badtype", {"\"provides[1].signature\"", "unknown type \"uint33\"", "at character 13"}},
        {"ffi/nosymbol", {"\"provides[1].signature\"", "has no symbol \"cosine\"", "libm.so.6"}},
        {"ffi/nolength", {"\"provides[0].signature\"", "bytes parameter \"buf\" has no length parameter",
                          "size_t len(buf)"}},
        {"ffi/nolibrary", {"\"library\"", "cannot open \"libplugbay-no-such-library.so.1\"", "No such file"}},
        {"ffi/nosignature", {"\"provides[1].signature\"", "needs one", "library"}},
        {"ffi/twins", {"\"provides[1]\"", "function \"trig\" already serves provides[0]", "leave \"function\" out"}},
        {"ffi/badtimer", {"a timer calls function \"tick\"", "no provide binds it", "\"function\" of a provide"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct settling s = {.id = cases[i].id};
        cr_assert(h_wait_until(settled, &s, H_WAIT_MS), "%s is still %s", s.id, s.state);
        cr_assert(strcmp(s.state, "loaded") != 0, "%s loaded", s.id);
        cr_assert(strstr(s.reason, "plugin.json"), "%s: %s", s.id, s.reason);
        for (size_t k = 0; k < 3; k++)
            cr_assert(strstr(s.reason, cases[i].needles[k]), "%s: the reason lacks %s: %s", s.id,
                      cases[i].needles[k], s.reason);
    }
    others_answer();
}

static bool strlen_answers(void *arg)
{
    bay_value *res = NULL, *a = bay_array();
    bay_array_push(a, bay_str("four"));
    int rc = bay_call(c, "crash.strlen", a, NULL, &res, NULL);
    bool ok = rc == 0 && bay_value_int(res) == 4;
    bay_value_free(a);
    bay_value_free(res);
    return ok;
}

Test(ffi, a_crash_inside_the_library_is_contained_and_the_binding_restarts)
{
    cr_assert(strlen_answers(NULL));
    pid_t before = h_worker_pid(c, "ffi/crash");
    REFUSED("crash.strlen", args("[null]"), BAY_ECRASHED, "crash.strlen", "SIGSEGV");
    others_answer();
    cr_assert(h_wait_until(strlen_answers, NULL, H_WAIT_MS), "ffi/crash was not restarted");
    cr_assert_neq(h_worker_pid(c, "ffi/crash"), before, "a new worker serves after the restart");
}

Test(ffi, a_bound_function_past_its_deadline_is_stopped_and_the_binding_restarts)
{
    cr_assert(h_wait_until(strlen_answers, NULL, H_WAIT_MS));
    pid_t before = h_worker_pid(c, "ffi/crash");
    bay_value *a = args("[60]"), *res = NULL;
    bay_call_opts o = {.timeout_ms = 300};
    bay_error err;
    long long t0 = h_now_ms();
    int rc = bay_call(c, "crash.sleep", a, &o, &res, &err);
    cr_assert_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "ffi/crash");
    cr_assert(h_now_ms() - t0 < 2000, "the caller waited %lld ms for a 300 ms deadline", h_now_ms() - t0);
    bay_value_free(a);
    others_answer();
    /* sleep() cannot look at bay_call_cancelled(): the broker kills the worker and starts a new one. */
    cr_assert(h_wait_until(strlen_answers, NULL, H_WAIT_MS), "ffi/crash was not restarted");
    cr_assert_neq(h_worker_pid(c, "ffi/crash"), before, "a new worker serves after the kill");
}
