/* tests/e2e/test_conformance.c — the conformance suite (sdk/conformance/cases.json, here as a C table) round-trips every value kind and error through conform/c, ffi, lua, python and wasm in one plugbayd; also what else a binding carries and the type each language sees. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* The depth the nesting cases reach: the deepest every bridge carries, and one more, which each refuses. */
#define DEEPEST 24

static harness h;
static bay_conn *c;

/* What a call should give: a value (as JSON for bay_value_from_json, or
 * built), or an error code. All empty: the echo's own argument. */
typedef struct outcome {
    const char *json;
    bay_value *(*make)(void);
    int error;
    const char *message; /* for an error: what its message says */
} outcome;

/* One case of cases.json: the same name, call, arguments and expectation. */
typedef struct conform_case {
    const char *name;
    const char *call;  /* "conform.echo" or "conform.fail" */
    outcome arg;       /* conform.echo's one argument */
    const char *args;  /* conform.fail's arguments, as JSON */
    outcome want;
    struct {
        const char *lang;
        outcome want;
    } by[2]; /* expect_by_language and error_by_language: what a language gives instead */
} conform_case;

static bay_value *make_nan(void)
{
    return bay_float(NAN);
}

static bay_value *make_inf(void)
{
    return bay_float(INFINITY);
}

static bay_value *make_ninf(void)
{
    return bay_float(-INFINITY);
}

static bay_value *make_nul_str(void)
{
    return bay_strn("a\0b", 3);
}

static bay_value *make_bad_utf8(void)
{
    return bay_strn("\xff\xfe\xc3(", 4);
}

static bay_value *make_bad_utf8_bin(void)
{
    return bay_bin("\xff\xfe\xc3(", 4);
}

static bay_value *make_empty_bin(void)
{
    return bay_bin("", 0);
}

static bay_value *make_bin_256(void)
{
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)i;
    return bay_bin(bytes, sizeof bytes);
}

/* make_wide_array gives [0, 1, ..., 9999]. */
static bay_value *make_wide_array(void)
{
    bay_value *a = bay_array();
    for (int64_t i = 0; i < 10000; i++)
        bay_array_push(a, bay_int(i));
    return a;
}

/* make_wide_map gives {"k0": 0, ..., "k999": 999}. */
static bay_value *make_wide_map(void)
{
    bay_value *m = bay_map();
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        bay_map_set(m, key, bay_int(i));
    }
    return m;
}

/* nested_arrays gives depth arrays, each holding the next, the innermost [1]. */
static bay_value *nested_arrays(int depth)
{
    bay_value *v = bay_int(1);
    for (int i = 0; i < depth; i++) {
        bay_value *a = bay_array();
        bay_array_push(a, v);
        v = a;
    }
    return v;
}

/* nested_maps gives depth maps, each holding the next under "k", the innermost {"k": 1}. */
static bay_value *nested_maps(int depth)
{
    bay_value *v = bay_int(1);
    for (int i = 0; i < depth; i++) {
        bay_value *m = bay_map();
        bay_map_set(m, "k", v);
        v = m;
    }
    return v;
}

static bay_value *make_deep_arrays(void)
{
    return nested_arrays(DEEPEST);
}

static bay_value *make_deep_maps(void)
{
    return nested_maps(DEEPEST);
}

static bay_value *make_too_deep(void)
{
    return nested_arrays(DEEPEST + 1);
}

/* make_past_the_wire gives an argument that, in its argument array, nests one level deeper than a frame carries. */
static bay_value *make_past_the_wire(void)
{
    return nested_arrays(31);
}

/* A binding's signature takes an int: it refuses every other argument before any code runs. */
#define FFI_REFUSES {"ffi", {.error = BAY_ETYPE, .message = "argument 1 (int64 "}}

/* A binding cannot fail with a code of its choosing: conform/ffi's conform.fail takes one int, and refuses two arguments. */
#define FFI_FAILS_NOT {"ffi", {.error = BAY_ETYPE, .message = "takes 1 argument"}}

/* FAILS(CODE) is the case of conform.fail ending a call with CODE, named by its name; a binding cannot fail. */
#define FAILS(code)                                                                                        \
    {                                                                                                      \
        .name = "fails with " #code, .call = "conform.fail", .args = "[\"" #code "\", \"conform: " #code "\"]",             \
        .want = {.error = code, .message = "conform: " #code}, .by = {FFI_FAILS_NOT}       \
    }

/* The suite: sdk/conformance/cases.json, case for case, in its order. */
static const conform_case cases[] = {
    {.name = "int 0", .call = "conform.echo", .arg = {.json = "0"}},
    {.name = "int 1", .call = "conform.echo", .arg = {.json = "1"}},
    {.name = "int -1", .call = "conform.echo", .arg = {.json = "-1"}},
    {.name = "int64 max", .call = "conform.echo", .arg = {.json = "9223372036854775807"}},
    {.name = "int64 min", .call = "conform.echo", .arg = {.json = "-9223372036854775808"}},
    {.name = "int 2^53+1", .call = "conform.echo", .arg = {.json = "9007199254740993"}},
    {.name = "float 0.5", .call = "conform.echo", .arg = {.json = "0.5"}, .by = {FFI_REFUSES}},
    {.name = "float -0.0", .call = "conform.echo", .arg = {.json = "-0.0"}, .by = {FFI_REFUSES}},
    {.name = "float NaN", .call = "conform.echo", .arg = {.make = make_nan}, .by = {FFI_REFUSES}},
    {.name = "float +inf", .call = "conform.echo", .arg = {.make = make_inf}, .by = {FFI_REFUSES}},
    {.name = "float -inf", .call = "conform.echo", .arg = {.make = make_ninf}, .by = {FFI_REFUSES}},
    {.name = "float 1.0 stays float", .call = "conform.echo", .arg = {.json = "1.0"}, .by = {FFI_REFUSES}},
    {.name = "float 1e308", .call = "conform.echo", .arg = {.json = "1e308"}, .by = {FFI_REFUSES}},
    {.name = "float 5e-324 (subnormal)", .call = "conform.echo", .arg = {.json = "5e-324"}, .by = {FFI_REFUSES}},
    {.name = "empty str", .call = "conform.echo", .arg = {.json = "\"\""}, .by = {FFI_REFUSES}},
    {.name = "str UTF-8", .call = "conform.echo", .arg = {.json = "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\""}, .by = {FFI_REFUSES}},
    {.name = "str with NUL", .call = "conform.echo", .arg = {.make = make_nul_str}, .by = {FFI_REFUSES}},
    {.name = "str with invalid UTF-8", .call = "conform.echo", .arg = {.make = make_bad_utf8},
     .by = {FFI_REFUSES, {"lua", {.make = make_bad_utf8_bin}}}},
    {.name = "empty bin", .call = "conform.echo", .arg = {.make = make_empty_bin},
     .by = {FFI_REFUSES, {"lua", {.json = "\"\""}}}},
    {.name = "bin of all 256 bytes", .call = "conform.echo", .arg = {.make = make_bin_256}, .by = {FFI_REFUSES}},
    {.name = "nil", .call = "conform.echo", .arg = {.json = "null"}, .by = {FFI_REFUSES}},
    {.name = "true", .call = "conform.echo", .arg = {.json = "true"}, .by = {FFI_REFUSES}},
    {.name = "false", .call = "conform.echo", .arg = {.json = "false"}, .by = {FFI_REFUSES}},
    {.name = "empty array", .call = "conform.echo", .arg = {.json = "[]"}, .by = {FFI_REFUSES}},
    {.name = "empty map", .call = "conform.echo", .arg = {.json = "{}"}, .by = {FFI_REFUSES}},
    {.name = "array of every kind", .call = "conform.echo", .arg = {.json = "[1, 0.5, \"s\", true, null, [2], {\"k\": 3}]"},
     .by = {FFI_REFUSES}},
    {.name = "array of 10000 items", .call = "conform.echo", .arg = {.make = make_wide_array}, .by = {FFI_REFUSES}},
    {.name = "map of 1000 keys", .call = "conform.echo", .arg = {.make = make_wide_map}, .by = {FFI_REFUSES}},
    {.name = "arrays nested 24 deep", .call = "conform.echo", .arg = {.make = make_deep_arrays}, .by = {FFI_REFUSES}},
    {.name = "maps nested 24 deep", .call = "conform.echo", .arg = {.make = make_deep_maps}, .by = {FFI_REFUSES}},
    {.name = "arrays nested 25 deep are refused", .call = "conform.echo", .arg = {.make = make_too_deep}, .want = {.error = BAY_ETYPE}},
    {.name = "arrays nested 31 deep are refused by the host", .call = "conform.echo", .arg = {.make = make_past_the_wire},
     .want = {.error = BAY_EINVAL, .message = "nest deeper than 31 levels"}},
    {.name = "nil inside an array", .call = "conform.echo", .arg = {.json = "[null, 1, null]"}, .by = {FFI_REFUSES}},
    {.name = "nil inside a map", .call = "conform.echo", .arg = {.json = "{\"a\": null}"}, .by = {FFI_REFUSES}},
    FAILS(BAY_EINVAL),
    FAILS(BAY_ENOMEM),
    FAILS(BAY_EPROTO),
    FAILS(BAY_EVERSION),
    FAILS(BAY_ENOENT),
    FAILS(BAY_ENOPROVIDER),
    FAILS(BAY_ETIMEDOUT),
    FAILS(BAY_ECANCELED),
    FAILS(BAY_ECRASHED),
    FAILS(BAY_EUNAVAIL),
    FAILS(BAY_EPLUGIN),
    FAILS(BAY_ECONN),
    FAILS(BAY_EMANIFEST),
    FAILS(BAY_ESTATE),
    FAILS(BAY_EEXIST),
    FAILS(BAY_EPERM),
    FAILS(BAY_EBUSY),
    FAILS(BAY_ETYPE),
    FAILS(BAY_EIO),
    FAILS(BAY_EKIND),
    FAILS(BAY_EPENDING),
    FAILS(BAY_ENOSPC),
    {.name = "fails with a code given as a number", .call = "conform.fail", .args = "[16, \"conform: 16\"]",
     .want = {.error = BAY_EPERM, .message = "conform: 16"}, .by = {FFI_FAILS_NOT}},
    {.name = "fails with a number that is no code", .call = "conform.fail", .args = "[999, \"conform: 999\"]",
     .want = {.error = BAY_EPLUGIN, .message = "999, which is not a plugbay error code"}, .by = {FFI_FAILS_NOT}},
};

/* call_case calls k's extension point with its arguments in context "conform/LANG"; *res gets the result. */
static int call_case(const conform_case *k, const char *lang, bay_value **res, bay_error *err)
{
    char context[64];
    snprintf(context, sizeof context, "conform/%s", lang);
    bay_call_opts opts = {.timeout_ms = 20000, .context = context};
    bay_value *args = NULL;
    if (k->args) {
        cr_assert_eq(bay_value_from_json(k->args, &args, NULL, 0), 0, "%s: bad JSON", k->name);
    } else {
        args = bay_array();
        bay_value *arg = NULL;
        if (k->arg.make)
            arg = k->arg.make();
        else
            cr_assert_eq(bay_value_from_json(k->arg.json, &arg, NULL, 0), 0, "%s: bad JSON", k->name);
        bay_array_push(args, arg);
    }
    *res = NULL;
    int rc = bay_call(c, k->call, args, &opts, res, err);
    bay_value_free(args);
    return rc;
}

/* want_of returns what k should give in language lang. */
static outcome want_of(const conform_case *k, const char *lang)
{
    for (size_t i = 0; i < sizeof k->by / sizeof k->by[0]; i++)
        if (k->by[i].lang && strcmp(k->by[i].lang, lang) == 0)
            return k->by[i].want;
    return k->want.json || k->want.make || k->want.error ? k->want : k->arg;
}

/* same compares as the suite does: bay_value_equal's exact trees (-0.0 is not 0.0), but any NaN equals any NaN. */
static bool same(const bay_value *a, const bay_value *b)
{
    bay_type t = bay_value_type(a);
    if (t != bay_value_type(b))
        return false;
    if (t == BAY_FLOAT && isnan(bay_value_float(a)))
        return isnan(bay_value_float(b));
    if (t != BAY_ARRAY && t != BAY_MAP)
        return bay_value_equal(a, b);
    if (bay_value_len(a) != bay_value_len(b))
        return false;
    for (size_t i = 0; i < bay_value_len(a); i++) {
        const bay_value *va, *vb;
        const char *key = t == BAY_MAP ? bay_map_entry(a, i, &va) : NULL;
        va = key ? va : bay_array_get(a, i);
        vb = key ? bay_map_get(b, key) : bay_array_get(b, i);
        if (vb == NULL || !same(va, vb))
            return false;
    }
    return true;
}

/* describe renders v for a failure message (cut short), into buf. */
static const char *describe(const bay_value *v, char *buf, size_t len)
{
    char *text = NULL;
    if (bay_value_to_json(v, &text) == 0)
        snprintf(buf, len, "%s %.200s", bay_type_name(bay_value_type(v)), text);
    else
        snprintf(buf, len, "%s (NaN or infinite: %g)", bay_type_name(bay_value_type(v)), bay_value_float(v));
    free(text);
    return buf;
}

/* check runs case k against conform/LANG and says (cr_expect) how it differs; returns true when it passed. */
static bool check(const conform_case *k, const char *lang)
{
    bay_value *res;
    bay_error err;
    int rc = call_case(k, lang, &res, &err);
    outcome w = want_of(k, lang);
    bool ok;
    char got[300], wanted[300];
    if (w.error) {
        ok = rc == w.error && (w.message == NULL || strstr(err.message, w.message));
        cr_expect(ok, "%s, %s: expected %s%s%s, got %s: %s", lang, k->name, bay_errname(w.error),
                  w.message ? " saying " : "", w.message ? w.message : "", bay_errname(rc),
                  rc ? err.message : describe(res, got, sizeof got));
    } else if (rc) {
        ok = false;
        cr_expect(ok, "%s, %s: failed with %s: %s", lang, k->name, bay_errname(rc), err.message);
    } else {
        bay_value *want = NULL;
        if (w.make)
            want = w.make();
        else
            cr_assert_eq(bay_value_from_json(w.json, &want, NULL, 0), 0, "%s: bad JSON", k->name);
        ok = same(res, want);
        cr_expect(ok, "%s, %s: expected %s, got %s", lang, k->name, describe(want, wanted, sizeof wanted),
                  describe(res, got, sizeof got));
        bay_value_free(want);
    }
    bay_value_free(res);
    return ok;
}

/* run_suite runs every case against conform/LANG. */
static void run_suite(const char *lang)
{
    size_t passed = 0, n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++)
        passed += check(&cases[i], lang);
    cr_log_info("conform/%s: %zu of %zu cases as expected", lang, passed, n);
}

static void start(void)
{
    const char *ids[] = {"conform/c", "conform/ffi", "conform/lua", "conform/python", "conform/wasm", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-conformance");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(conformance, .init = start, .fini = stop, .timeout = 180);

Test(conformance, c_plugin_passes_the_suite)
{
    run_suite("c");
}

Test(conformance, ffi_binding_passes_what_its_signatures_carry)
{
    run_suite("ffi");
}

Test(conformance, lua_plugin_passes_the_suite)
{
    run_suite("lua");
}

Test(conformance, python_plugin_passes_the_suite)
{
    run_suite("python");
}

Test(conformance, wasm_plugin_passes_the_suite)
{
    run_suite("wasm");
}

/* What a binding carries beside ints, each on an extension point of its own type (cases.json cannot say it). */
static const conform_case ffi_cases[] = {
    {.name = "float -0.0", .call = "conform.echo_float", .arg = {.json = "-0.0"}},
    {.name = "float NaN", .call = "conform.echo_float", .arg = {.make = make_nan}},
    {.name = "float -inf", .call = "conform.echo_float", .arg = {.make = make_ninf}},
    {.name = "float 5e-324", .call = "conform.echo_float", .arg = {.json = "5e-324"}},
    {.name = "an int as a double", .call = "conform.echo_float", .arg = {.json = "3"}, .want = {.json = "3.0"}},
    {.name = "an int past 2^53 as a double", .call = "conform.echo_float", .arg = {.json = "9007199254740993"},
     .want = {.error = BAY_EINVAL}},
    {.name = "true", .call = "conform.echo_bool", .arg = {.json = "true"}},
    {.name = "str UTF-8", .call = "conform.echo_str", .arg = {.json = "\"h\xc3\xa9llo\""}},
    {.name = "str with invalid UTF-8", .call = "conform.echo_str", .arg = {.make = make_bad_utf8}},
    {.name = "nil as NULL", .call = "conform.echo_str", .arg = {.json = "null"}},
    {.name = "str with NUL", .call = "conform.echo_str", .arg = {.make = make_nul_str},
     .want = {.error = BAY_EINVAL, .message = "holds a NUL byte"}},
    {.name = "bin for a str", .call = "conform.echo_str", .arg = {.make = make_bin_256}, .want = {.error = BAY_ETYPE}},
};

Test(conformance, ffi_binding_carries_floats_booleans_and_strings_on_their_own_extension_points)
{
    for (size_t i = 0; i < sizeof ffi_cases / sizeof ffi_cases[0]; i++)
        check(&ffi_cases[i], "ffi");
}

/* make_nan_payload gives a quiet NaN with a payload of its own, which cases.json cannot write. */
static bay_value *make_nan_payload(void)
{
    uint64_t bits = 0x7ff800000000beefull;
    double d;
    memcpy(&d, &bits, sizeof d);
    return bay_float(d);
}

Test(conformance, every_language_keeps_a_nan_payload_bit_for_bit)
{
    const char *langs[] = {"c", "lua", "python", "wasm", "ffi"};
    for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
        conform_case k = {.name = "NaN with a payload", .call = l == 4 ? "conform.echo_float" : "conform.echo",
                          .arg = {.make = make_nan_payload}};
        bay_value *res, *want = make_nan_payload();
        bay_error err;
        int rc = call_case(&k, langs[l], &res, &err);
        cr_expect(rc == 0 && bay_value_equal(res, want), "%s: the NaN came back %s: %s", langs[l],
                  rc ? bay_errname(rc) : "with other bits", rc ? err.message : "");
        bay_value_free(res);
        bay_value_free(want);
    }
}

/* A map key that is not a string, which only a plugin can make: refused the same way in each language that can write one (C cannot). */
Test(conformance, a_map_key_that_is_not_a_string_is_refused_alike)
{
    const char *langs[] = {"lua", "python", "wasm"};
    for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
        conform_case k = {.name = "a map key that is not a string", .call = "conform.bad_key", .args = "[]",
                          .want = {.error = BAY_ETYPE, .message = "key"}};
        check(&k, langs[l]);
    }
}

/* How each language names the type of a value it received: conform.type's answers. */
static const struct {
    outcome arg;
    const char *c, *lua, *python, *wasm;
} types[] = {
    {{.json = "1"}, "int", "integer", "int", "int"},
    {{.json = "1.0"}, "float", "float", "float", "float"},
    {{.json = "\"s\""}, "str", "string", "str", "str"},
    {{.make = make_bad_utf8}, "str", "string", "str", "str"},
    {{.make = make_bin_256}, "bin", "string", "bytes", "bin"},
    {{.json = "null"}, "nil", "nil", "NoneType", "nil"},
    {{.json = "[]"}, "array", "table (plugbay.array)", "list", "array"},
    {{.json = "{}"}, "map", "table (plugbay.map)", "dict", "map"},
};

Test(conformance, each_language_names_the_types_it_sees)
{
    const char *langs[] = {"c", "lua", "python", "wasm"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const char *names[] = {types[i].c, types[i].lua, types[i].python, types[i].wasm};
        for (size_t l = 0; l < 4; l++) {
            char quoted[64];
            snprintf(quoted, sizeof quoted, "\"%s\"", names[l]);
            conform_case k = {.name = names[l], .call = "conform.type", .arg = types[i].arg, .want = {.json = quoted}};
            check(&k, langs[l]);
        }
    }
}

/* cases.json holds the same cases as the table above, by name and in order, so neither drifts alone. */
Test(conformance_cases, cases_json_matches_the_table)
{
    json_error_t why;
    json_t *root = json_load_file(BAY_CONFORMANCE_CASES, 0, &why);
    cr_assert(root, "%s:%d: %s", BAY_CONFORMANCE_CASES, why.line, why.text);
    json_t *list = json_object_get(root, "cases");
    size_t n = sizeof cases / sizeof cases[0];
    cr_assert_eq(json_array_size(list), n, "cases.json has %zu cases, the table %zu", json_array_size(list), n);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(list, i), "name"));
        cr_expect(name && strcmp(name, cases[i].name) == 0, "case %zu is \"%s\" in cases.json, \"%s\" here", i,
                  name ? name : "(no name)", cases[i].name);
    }
    json_decref(root);
}
