/* tests/unit/test_python_value.c — call values between bay_value and Python objects (bridges/python/convert.c). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "convert.h"

static PyObject *globals;

static void start(void)
{
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    cr_assert(!PyStatus_Exception(status), "Python did not start: %s", status.err_msg);
    globals = PyDict_New();
    PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
}

static void finish(void)
{
    Py_CLEAR(globals);
    Py_FinalizeEx();
}

TestSuite(python_value, .init = start, .fini = finish);

/* run runs Python statements in the tests' globals. */
static void run(const char *code)
{
    PyObject *done = PyRun_String(code, Py_file_input, globals, globals);
    cr_assert_not_null(done, "Python failed: %s", code);
    Py_DECREF(done);
}

/* eval returns a new reference to the value of a Python expression. */
static PyObject *eval(const char *expr)
{
    PyObject *o = PyRun_String(expr, Py_eval_input, globals, globals);
    cr_assert_not_null(o, "Python failed: %s", expr);
    return o;
}

/* py_true tells whether a Python expression is true, with the name v bound to the object o. */
static bool py_true(PyObject *o, const char *expr)
{
    PyDict_SetItemString(globals, "v", o);
    PyObject *r = eval(expr);
    bool yes = PyObject_IsTrue(r) == 1;
    Py_DECREF(r);
    return yes;
}

/* expect_python checks a Python expression about o (bound to the name v), a
 * conversion's new result, and releases o. */
static void expect_python(PyObject *o, const char *check)
{
    cr_assert_not_null(o, "the conversion failed (%s)", check);
    cr_assert(py_true(o, check), "%s", check);
    Py_DECREF(o);
}

/* json_value parses test JSON into a new value. */
static bay_value *json_value(const char *json)
{
    bay_value *v = NULL;
    cr_assert_eq(bay_value_from_json(json, &v, NULL, 0), 0, "bad test JSON %s", json);
    return v;
}

/* to_bay converts the value of a Python expression; returns the code, with why in err. */
static int to_bay(const char *expr, bay_value **out, bay_error *err)
{
    PyObject *o = eval(expr);
    err->message[0] = '\0';
    int rc = pyb_from_python(o, "result", out, err);
    Py_DECREF(o);
    cr_assert_null(PyErr_Occurred(), "%s left a Python exception set", expr);
    return rc;
}

/* expect_json converts a Python expression and compares the value's JSON with want. */
static void expect_json(const char *expr, const char *want)
{
    bay_value *v = NULL;
    char *json = NULL;
    bay_error err;
    cr_assert_eq(to_bay(expr, &v, &err), 0, "%s: %s", expr, err.message);
    cr_assert_eq(bay_value_to_json(v, &json), 0);
    cr_assert_str_eq(json, want, "%s", expr);
    free(json);
    bay_value_free(v);
}

/* expect_refused converts a Python expression and checks BAY_ETYPE and the message. */
static void expect_refused(const char *expr, const char *needle)
{
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(to_bay(expr, &v, &err), BAY_ETYPE, "%s was not refused", expr);
    cr_assert_null(v);
    cr_assert(strstr(err.message, needle), "%s: \"%s\" is not in: %s", expr, needle, err.message);
}

Test(python_value, scalars_become_their_python_types)
{
    struct {
        bay_value *v;
        const char *check;
    } cases[] = {
        {bay_nil(), "v is None"},
        {bay_bool(true), "v is True"},
        {bay_bool(false), "v is False"},
        {bay_int(INT64_MIN), "type(v) is int and v == -2**63"},
        {bay_int(INT64_MAX), "v == 2**63 - 1"},
        {bay_float(-0.5), "type(v) is float and v == -0.5"},
        {bay_str("h\xc3\xa9llo"), "v == 'h\\u00e9llo'"},
        {bay_strn("x\0y", 3), "v == 'x\\x00y'"},
        {bay_bin("a\0\xff", 3), "type(v) is bytes and v == b'a\\x00\\xff'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_python(pyb_to_python(cases[i].v), cases[i].check);
        bay_value_free(cases[i].v);
    }
}

Test(python_value, arrays_become_lists_and_maps_dicts_in_their_order)
{
    bay_value *v = json_value("{\"z\": [1, [], {}], \"a\": null, \"m\": {\"k\": true}}");
    expect_python(pyb_to_python(v),
                  "v == {'z': [1, [], {}], 'a': None, 'm': {'k': True}} and list(v) == ['z', 'a', 'm']");
    bay_value_free(v);
}

Test(python_value, arguments_become_a_tuple)
{
    bay_value *args = json_value("[1, \"two\", [3]]");
    expect_python(pyb_args_to_python(args), "type(v) is tuple and v == (1, 'two', [3])");
    bay_value_free(args);
}

Test(python_value, strings_that_are_not_utf8_survive_a_round_trip)
{
    bay_value *v = bay_strn("bad \xff\xfe end", 10), *back = NULL;
    PyObject *o = pyb_to_python(v);
    cr_assert(py_true(o, "v == 'bad \\udcff\\udcfe end'"), "bytes that are not UTF-8 become surrogate escapes");
    bay_error err;
    cr_assert_eq(pyb_from_python(o, "result", &back, &err), 0, "%s", err.message);
    cr_assert(bay_value_equal(v, back));
    Py_DECREF(o);
    bay_value_free(v);
    bay_value_free(back);
}

Test(python_value, python_values_become_bay_values)
{
    expect_json("[None, True, False, 3, -2**63, 2**63 - 1, 2.5, 'h\\u00e9', (1, 2), {'k': [{}]}]",
                "[null,true,false,3,-9223372036854775808,9223372036854775807,2.5,\"h\xc3\xa9\",[1,2],{\"k\":[{}]}]");
    expect_json("{'b': 1, 'a': 2}", "{\"b\":1,\"a\":2}");
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(to_bay("[b'a\\x00', bytearray(b'xy'), 'n\\x00ul']", &v, &err), 0, "%s", err.message);
    size_t len;
    cr_assert_eq(bay_value_type(bay_array_get(v, 0)), BAY_BIN);
    cr_assert_eq(bay_value_type(bay_array_get(v, 1)), BAY_BIN);
    cr_assert_eq(bay_value_type(bay_array_get(v, 2)), BAY_STR);
    cr_assert_eq(memcmp(bay_value_str(bay_array_get(v, 2), &len), "n\0ul", 4), 0);
    cr_assert_eq(len, 4);
    bay_value_free(v);
}

Test(python_value, bool_stays_bool)
{
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(to_bay("True", &v, &err), 0);
    cr_assert_eq(bay_value_type(v), BAY_BOOL, "True is an int to Python, but a bool to plugbay");
    bay_value_free(v);
}

Test(python_value, subclasses_count_as_their_base_and_run_no_code)
{
    run("class Trap(Exception): pass\n"
        "class I(int):\n    def __index__(self): raise Trap\n    def __int__(self): raise Trap\n"
        "class S(str):\n    def __str__(self): raise Trap\n    def encode(self, *a): raise Trap\n"
        "class L(list):\n    def __iter__(self): raise Trap\n    def __len__(self): raise Trap\n"
        "class D(dict):\n    def items(self): raise Trap\n    def __iter__(self): raise Trap\n");
    expect_json("[I(7), S('s'), L([1]), D(k=1)]", "[7,\"s\",[1],{\"k\":1}]");
}

Test(python_value, ints_beyond_64_bits_are_refused_with_their_place)
{
    expect_refused("[1, {'x': 2**63}]", "result[1][\"x\"] is an int beyond 64 bits");
    expect_refused("-2**63 - 1", "result is an int beyond 64 bits");
}

Test(python_value, keys_that_are_not_str_are_refused)
{
    expect_refused("{1: 2}", "result has a key of type int; dict keys crossing a call must be str");
    expect_refused("{'a\\x00b': 1}", "has a key holding a NUL byte");
    expect_refused("{'\\u00e9': 1, '\\udcc3\\udca9': 2}", "has two keys with the same UTF-8 bytes");
}

Test(python_value, types_plugbay_cannot_carry_are_named)
{
    expect_refused("[{1, 2}]", "result[0] has type set");
    expect_refused("{'f': len}", "result[\"f\"] has type builtin_function_or_method");
    expect_refused("object()", "result has type object");
    expect_refused("'lone \\ud800'", "result is a str holding a lone surrogate");
}

Test(python_value, cycles_and_deep_nesting_are_refused)
{
    run("cycle = [1]\ncycle.append(cycle)\n"
        "deep = []\nfor _ in range(23): deep = [deep]\n");
    expect_refused("cycle", "result[1] contains itself");
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(to_bay("deep", &v, &err), 0, "24 levels fit: %s", err.message);
    bay_value_free(v);
    expect_refused("[deep]", "nests lists, tuples and dicts deeper than 24 levels");
}
