/* tests/e2e/test_conformance.c — the conformance suite (sdk/conformance/cases.json) run by plugbay test --conformance against conform/c, ffi, lua, python and wasm, and against a plugin that fails it; in one plugbayd, what cases.json cannot write: what else a binding carries, NaN payloads, map keys that are no strings, and the type each language sees. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

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
    outcome want;      /* all empty: the echo's own argument */
} conform_case;

static bay_value *make_nan(void)
{
    return bay_float(NAN);
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

static bay_value *make_bin_256(void)
{
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)i;
    return bay_bin(bytes, sizeof bytes);
}

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

/* want_of returns what k should give: its want, else (an echo) its argument. */
static outcome want_of(const conform_case *k)
{
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
    outcome w = want_of(k);
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

/* cases_in returns how many cases cases.json has. */
static size_t cases_in(void)
{
    json_error_t why;
    json_t *root = json_load_file(BAY_CONFORMANCE_CASES, 0, &why);
    cr_assert(root, "%s:%d: %s", BAY_CONFORMANCE_CASES, why.line, why.text);
    size_t n = json_array_size(json_object_get(root, "cases"));
    json_decref(root);
    cr_assert_gt(n, 50, "%s has %zu cases", BAY_CONFORMANCE_CASES, n);
    return n;
}

/* conformance runs plugbay test --conformance (a private plugbayd of its own, on the call path this test runs on)
 * against the plugin folder dir, its output in out; returns its exit status. */
static int conformance(const char *dir, char *out, size_t len)
{
    char err[8192];
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "test", "--conformance", dir, NULL};
    int rc = h_run(&h, argv, out, len, err, sizeof err);
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s", err);
    return rc;
}

/* passes asserts that conform/LANG passes every case of the suite. */
static void passes(const char *lang)
{
    char dir[512], out[65536], want[64];
    snprintf(dir, sizeof dir, "%s/conform/%s", BAY_TEST_PLUGIN_DIR, lang);
    snprintf(want, sizeof want, "\n%zu passed, 0 failed\n", cases_in());
    cr_assert_eq(conformance(dir, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, want) && !strstr(out, "FAIL"), "%s", out);
}

Test(conformance_suite, c_plugin_passes_the_suite)
{
    passes("c");
}

Test(conformance_suite, ffi_binding_passes_the_suite_as_far_as_its_signatures_carry)
{
    passes("ffi");
}

Test(conformance_suite, lua_plugin_passes_the_suite)
{
    passes("lua");
}

Test(conformance_suite, python_plugin_passes_the_suite)
{
    passes("python");
}

Test(conformance_suite, wasm_plugin_passes_the_suite)
{
    passes("wasm");
}

/* A plugin that does not serve the suite's points fails every case, each shown, and plugbay test says so. */
Test(conformance_suite, a_plugin_that_does_not_serve_the_suite_fails_it_case_by_case)
{
    char dir[512], out[65536];
    snprintf(dir, sizeof dir, "%s/example/hello", BAY_EXAMPLE_PLUGIN_DIR);
    cr_assert_neq(conformance(dir, out, sizeof out), 0, "%s", out);
    /* Only the case the host itself refuses (nested past what a frame carries) passes. */
    size_t passed = 0, failed = 0;
    const char *sum = strstr(out, " passed, ");
    while (sum && sum > out && sum[-1] >= '0' && sum[-1] <= '9')
        sum--;
    cr_assert(sum && sscanf(sum, "%zu passed, %zu failed", &passed, &failed) == 2, "%s", out);
    cr_assert(passed == 1 && failed == cases_in() - 1, "%zu passed, %zu failed: %s", passed, failed, out);
    cr_assert(strstr(out, "FAIL int 0\n     call     conform.echo [0]\n     expected 0\n     got      error "
                          "BAY_ENOENT: no extension point \"conform.echo\""), "%s", out);
}
