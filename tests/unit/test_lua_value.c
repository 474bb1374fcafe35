/* tests/unit/test_lua_value.c — the Lua bridge's value conversion: bay_value <-> Lua, edge cases and clear errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>
#include <plugbay/error.h>

#include "convert.h"

static lua_State *L;
static bay_error why;

static void setup(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    lbay_convert_open(L);
    lua_register(L, "array", lbay_mark_array);
    lua_register(L, "map", lbay_mark_map);
    lbay_push_null(L);
    lua_setglobal(L, "null");
}

static void teardown(void)
{
    lua_close(L);
}

TestSuite(lua_value, .init = setup, .fini = teardown);

/* from_lua evaluates the Lua expression expr and converts its value; returns the code. */
static int from_lua(const char *expr, bay_value **out)
{
    char chunk[4096];
    snprintf(chunk, sizeof chunk, "return %s", expr);
    cr_assert_eq(luaL_dostring(L, chunk), LUA_OK, "%s: %s", expr, lua_tostring(L, -1));
    why.message[0] = '\0';
    int rc = lbay_to_value(L, -1, "result", out, &why);
    lua_pop(L, 1);
    return rc;
}

/* expect_lua evaluates expr and asserts its value equals the JSON json. */
static void expect_lua(const char *expr, const char *json)
{
    bay_value *got = NULL, *want = NULL;
    cr_assert_eq(from_lua(expr, &got), 0, "%s: %s", expr, why.message);
    cr_assert_eq(bay_value_from_json(json, &want, NULL, 0), 0);
    char *text = NULL;
    bay_value_to_json(got, &text);
    cr_assert(bay_value_equal(got, want), "%s gave %s, not %s", expr, text, json);
    free(text);
    bay_value_free(got);
    bay_value_free(want);
}

/* expect_error evaluates expr and asserts its conversion fails with BAY_ETYPE mentioning each of the words. */
static void expect_error(const char *expr, const char *const *words)
{
    bay_value *got = NULL;
    cr_assert_eq(from_lua(expr, &got), BAY_ETYPE, "%s converted", expr);
    cr_assert_null(got);
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(why.message, words[i]), "%s: message lacks \"%s\": %s", expr, words[i], why.message);
}

/* roundtrip pushes v into Lua, checks the Lua expression test (with the value as global v) is true, and
 * asserts the value converts back unchanged. */
static void roundtrip(bay_value *v, const char *test)
{
    lbay_push(L, v);
    lua_setglobal(L, "v");
    char chunk[512];
    snprintf(chunk, sizeof chunk, "return %s", test);
    cr_assert_eq(luaL_dostring(L, chunk), LUA_OK, "%s: %s", test, lua_tostring(L, -1));
    cr_assert(lua_toboolean(L, -1), "in Lua, %s is false", test);
    lua_pop(L, 1);
    lua_getglobal(L, "v");
    bay_value *back = NULL;
    cr_assert_eq(lbay_to_value(L, -1, "v", &back, &why), 0, "%s", why.message);
    lua_pop(L, 1);
    cr_assert(bay_value_equal(v, back), "%s did not come back unchanged", test);
    bay_value_free(back);
    bay_value_free(v);
}

Test(lua_value, integers_stay_integers_across_the_whole_int64_range)
{
    roundtrip(bay_int(0), "math.type(v) == 'integer' and v == 0");
    roundtrip(bay_int(INT64_MAX), "math.type(v) == 'integer' and v == math.maxinteger");
    roundtrip(bay_int(INT64_MIN), "math.type(v) == 'integer' and v == math.mininteger");
    roundtrip(bay_int((INT64_C(1) << 53) + 1), "math.type(v) == 'integer' and v == 9007199254740993");
    expect_lua("math.maxinteger", "9223372036854775807");
    expect_lua("math.mininteger", "-9223372036854775808");
    expect_lua("7 // 2", "3");
    expect_lua("(1 << 53) + 1", "9007199254740993");
}

Test(lua_value, floats_stay_floats_even_when_whole)
{
    roundtrip(bay_float(2.0), "math.type(v) == 'float' and v == 2");
    roundtrip(bay_float(-0.0), "math.type(v) == 'float' and 1 / v < 0");
    roundtrip(bay_float(1e308), "v == 1e308");
    roundtrip(bay_float(INFINITY), "v == math.huge");
    roundtrip(bay_float(NAN), "v ~= v");
    roundtrip(bay_float(5e-324), "v > 0 and v / 2 == 0");
    bay_value *v = NULL;
    cr_assert_eq(from_lua("6 / 3", &v), 0);
    cr_assert_eq(bay_value_type(v), BAY_FLOAT, "6 / 3 is the float 2.0 in Lua 5.4");
    bay_value_free(v);
    cr_assert_eq(from_lua("-0.0", &v), 0);
    cr_assert(bay_value_type(v) == BAY_FLOAT && signbit(bay_value_float(v)));
    bay_value_free(v);
}

Test(lua_value, nil_and_booleans)
{
    roundtrip(bay_nil(), "v == nil");
    roundtrip(bay_bool(true), "v == true");
    roundtrip(bay_bool(false), "v == false");
    expect_lua("nil", "null");
    expect_lua("1 == 1", "true");
}

Test(lua_value, strings_are_binary_safe)
{
    roundtrip(bay_strn("a\0b", 3), "#v == 3 and v:byte(2) == 0");
    roundtrip(bay_str(""), "v == ''");
    roundtrip(bay_str("h\xc3\xa9llo \xf0\x9f\x98\x80"), "utf8.len(v) == 7");
    roundtrip(bay_bin("\xff\x00\xfe", 3), "#v == 3 and v:byte(1) == 255");
    bay_value *v = NULL;
    cr_assert_eq(from_lua("'x\\0y'", &v), 0);
    cr_assert_eq(bay_value_type(v), BAY_STR, "a NUL byte is valid UTF-8");
    bay_value_free(v);
}

Test(lua_value, strings_that_are_not_utf8_go_as_binary)
{
    static const struct {
        const char *lua;
        bay_type want;
    } cases[] = {
        {"'\\xff\\xfe'", BAY_BIN},            /* bytes that never start UTF-8 */
        {"'\\xc0\\x80'", BAY_BIN},            /* overlong NUL */
        {"'\\xed\\xa0\\x80'", BAY_BIN},       /* a UTF-16 surrogate */
        {"'\\xf4\\x90\\x80\\x80'", BAY_BIN},  /* past U+10FFFF */
        {"'\\xe2\\x82'", BAY_BIN},            /* truncated */
        {"'\\xf4\\x8f\\xbf\\xbf'", BAY_STR},  /* U+10FFFF */
        {"'\\u{7FF}\\u{FFFD}'", BAY_STR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bay_value *v = NULL;
        cr_assert_eq(from_lua(cases[i].lua, &v), 0, "%s: %s", cases[i].lua, why.message);
        cr_assert_eq(bay_value_type(v), cases[i].want, "%s became a %s", cases[i].lua,
                     bay_type_name(bay_value_type(v)));
        bay_value_free(v);
    }
}

Test(lua_value, sequences_are_arrays_and_string_keys_are_maps)
{
    expect_lua("{10, 'x', true}", "[10, \"x\", true]");
    expect_lua("{a = 1, ['b c'] = {2.5}}", "{\"a\": 1, \"b c\": [2.5]}");
    expect_lua("{}", "[]");
    expect_lua("map()", "{}");
    expect_lua("map({k = 'v'})", "{\"k\": \"v\"}");
    expect_lua("array()", "[]");
    expect_lua("{{{1}}, {x = {y = {}}}}", "[[[1]], {\"x\": {\"y\": []}}]");
}

Test(lua_value, arrays_and_maps_arrive_with_1_based_indexes_and_go_back_as_they_came)
{
    bay_value *v = NULL;
    cr_assert_eq(bay_value_from_json("{\"list\": [\"a\", \"b\"], \"empty_map\": {}, \"empty_list\": []}", &v, NULL, 0),
                 0);
    roundtrip(v, "v.list[1] == 'a' and v.list[2] == 'b' and #v.list == 2 and next(v.empty_map) == nil");
}

Test(lua_value, tables_neither_array_nor_map_are_refused_with_where_and_why)
{
    expect_error("{1, 2, x = 3}", (const char *[]){"result", "mixes integer keys and string keys", NULL});
    expect_error("{1, nil, 3}", (const char *[]){"not a sequence", "key 3", "holes", NULL});
    expect_error("{[0] = 'a'}", (const char *[]){"has key 0", "array (keys 1..n)", NULL});
    expect_error("{[1.5] = 'a'}", (const char *[]){"has key 1.5", NULL});
    expect_error("{[true] = 'a'}", (const char *[]){"has key true", NULL});
    expect_error("{items = {1, {f = print}}}", (const char *[]){"result.items[2].f", "function", NULL});
    expect_error("{['a\\0b'] = 1}", (const char *[]){"NUL byte", NULL});
    expect_error("array({x = 1})", (const char *[]){"has key \"x\"", "marked as an array", NULL});
    expect_error("map({1})", (const char *[]){"has key 1", "marked as a map", NULL});
    expect_error("coroutine.create(print)", (const char *[]){"is a thread", NULL});
    expect_error("io.stdout", (const char *[]){"is a userdata", NULL});
}

Test(lua_value, cycles_and_deep_nesting_are_clear_errors)
{
    cr_assert_eq(luaL_dostring(L, "t = {}; t.self = t; u = {{}}; u[1][1] = u"), LUA_OK);
    expect_error("t", (const char *[]){"result.self", "contains itself", NULL});
    expect_error("u", (const char *[]){"result[1][1]", "cycle", NULL});
    char expr[512];
    snprintf(expr, sizeof expr, "(function() local t = 1 for i = 1, %d do t = {t} end return t end)()", BAY_CONVERT_MAX_DEPTH);
    bay_value *v = NULL;
    cr_assert_eq(from_lua(expr, &v), 0, "%d levels are allowed: %s", BAY_CONVERT_MAX_DEPTH, why.message);
    bay_value_free(v);
    snprintf(expr, sizeof expr, "(function() local t = 1 for i = 1, %d do t = {t} end return t end)()",
             BAY_CONVERT_MAX_DEPTH + 1);
    expect_error(expr, (const char *[]){"deeper than 24 levels", NULL});
}

Test(lua_value, shared_subtables_that_are_not_cycles_are_fine)
{
    cr_assert_eq(luaL_dostring(L, "s = {1}; pair = {s, s}"), LUA_OK);
    expect_lua("pair", "[[1], [1]]");
}

Test(lua_value, a_value_sent_to_lua_and_back_is_the_same_tree)
{
    bay_value *v = NULL;
    cr_assert_eq(bay_value_from_json("{\"n\": null, \"b\": false, \"i\": -42, \"f\": 0.25, \"s\": \"text\", "
                                     "\"a\": [1, [2, {\"deep\": [\"x\"]}], {}], \"m\": {\"k\": []}}",
                                     &v, NULL, 0),
                 0);
    bay_map_set(v, "bin", bay_bin("\x00\x01\xff", 3));
    roundtrip(v, "v.i == -42 and v.a[2][2].deep[1] == 'x' and v.n == null");
}

Test(lua_value, nil_inside_arrays_and_maps_is_plugbay_null_both_ways)
{
    bay_value *v = NULL;
    cr_assert_eq(bay_value_from_json("[1, null, 3, {\"k\": null}, null]", &v, NULL, 0), 0);
    roundtrip(v, "#v == 5 and v[2] == null and v[5] == null and v[4].k == null");
    roundtrip(bay_nil(), "v == nil");
    expect_lua("{null, {k = null}}", "[null, {\"k\": null}]");
    expect_lua("{k = nil}", "[]");
    expect_error("{1, nil, 3}", (const char *[]){"plugbay.null", NULL});
}

Test(lua_value, converting_calls_no_metamethods)
{
    cr_assert_eq(luaL_dostring(L, "called = false; t = setmetatable({1, 2}, {__index = function() called = true end, "
                                  "__pairs = function() called = true end, __len = function() called = true return 9 end})"),
                 LUA_OK);
    expect_lua("t", "[1, 2]");
    cr_assert_eq(luaL_dostring(L, "return called"), LUA_OK);
    cr_assert_not(lua_toboolean(L, -1), "a metamethod ran during the conversion");
    lua_pop(L, 1);
}

Test(lua_value, markers_are_out_of_reach_of_getmetatable)
{
    cr_assert_eq(luaL_dostring(L, "return getmetatable(array()) == 'plugbay.array' and getmetatable(map({})) == "
                                  "'plugbay.map' and not pcall(setmetatable, map(), {})"),
                 LUA_OK, "%s", lua_tostring(L, -1));
    cr_assert(lua_toboolean(L, -1), "getmetatable answers a marker, or setmetatable replaces it");
    lua_pop(L, 1);
}

/* Bytes a lua_State of limited_alloc may still allocate. */
static size_t room;

/* limited_alloc is a lua_Alloc that fails once room is spent. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    size_t more = ptr && nsize > osize ? nsize - osize : ptr ? 0 : nsize;
    if (more > room)
        return NULL;
    room -= more;
    return realloc(ptr, nsize);
}

/* push_owned is a Lua C function returning its light userdata argument through lbay_push_owned. */
static int push_owned(lua_State *S)
{
    return lbay_push_owned(S, lua_touserdata(S, 1));
}

Test(lua_value, a_value_pushed_as_owned_is_freed_also_when_memory_runs_out)
{
    room = SIZE_MAX;
    lua_State *S = lua_newstate(limited_alloc, NULL);
    cr_assert_not_null(S);
    lbay_convert_open(S);
    for (int round = 0; round < 2; round++) {
        bay_value *big = bay_array();
        for (int i = 0; i < 1000; i++)
            bay_array_push(big, bay_str("a string long enough to need memory of its own in Lua"));
        room = round == 0 ? SIZE_MAX : 4096;
        lua_pushcfunction(S, push_owned);
        lua_pushlightuserdata(S, big);
        int status = lua_pcall(S, 1, 1, 0);
        room = SIZE_MAX;
        cr_assert_eq(status, round == 0 ? LUA_OK : LUA_ERRMEM, "round %d: %s", round, lua_tostring(S, -1));
        cr_assert(round == 1 || lua_rawlen(S, -1) == 1000, "the array did not arrive whole");
        lua_pop(S, 1);
    }
    lua_close(S); /* LeakSanitizer tells whether both values were freed */
}
