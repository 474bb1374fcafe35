/* bridges/lua/convert.c — converting call values between bay_value (msgpack) and Lua, for the Lua bridge. */
#include "convert.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <plugbay/error.h>

/* Registry keys (their addresses) of the two marker metatables; plugbay.null
 * is a light userdata pointing at null_key. */
static const char array_key, map_key, null_key;

enum shape { SHAPE_NONE = -1, SHAPE_ARRAY, SHAPE_MAP };

void lbay_convert_open(lua_State *L)
{
    const void *keys[] = {&array_key, &map_key};
    const char *names[] = {"plugbay.array", "plugbay.map"};
    for (int i = 0; i < 2; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, names[i]);
        lua_setfield(L, -2, "__name");
        lua_pushstring(L, names[i]); /* getmetatable's answer, so no plugin adds a __gc to a marker */
        lua_setfield(L, -2, "__metatable");
        lua_rawsetp(L, LUA_REGISTRYINDEX, keys[i]);
    }
}

/* set_marker sets the metatable of the table at idx to the marker stored under key. */
static void set_marker(lua_State *L, int idx, const void *key)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    lua_setmetatable(L, idx < 0 ? idx - 1 : idx);
}

void lbay_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&null_key);
}

/* push_item pushes an array item or map value: nil as plugbay.null, since a
 * table cannot hold nil. */
static void push_item(lua_State *L, const bay_value *v)
{
    if (bay_value_type(v) == BAY_NIL)
        lbay_push_null(L);
    else
        lbay_push(L, v);
}

void lbay_push(lua_State *L, const bay_value *v)
{
    luaL_checkstack(L, 3, "a value nests too deeply for the Lua stack");
    size_t n = bay_value_len(v);
    int hint = n < INT32_MAX ? (int)n : INT32_MAX;
    switch (bay_value_type(v)) {
    case BAY_NIL: lua_pushnil(L); break;
    case BAY_BOOL: lua_pushboolean(L, bay_value_bool(v)); break;
    case BAY_INT: lua_pushinteger(L, (lua_Integer)bay_value_int(v)); break;
    case BAY_FLOAT: lua_pushnumber(L, (lua_Number)bay_value_float(v)); break;
    case BAY_STR:
    case BAY_BIN: {
        size_t len;
        const char *s = bay_value_str(v, &len);
        lua_pushlstring(L, s, len);
        break;
    }
    case BAY_ARRAY:
        lua_createtable(L, hint, 0);
        for (size_t i = 0; i < n; i++) {
            push_item(L, bay_array_get(v, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        set_marker(L, -1, &array_key);
        break;
    case BAY_MAP:
        lua_createtable(L, 0, hint);
        for (size_t i = 0; i < n; i++) {
            const bay_value *val;
            lua_pushstring(L, bay_map_entry(v, i, &val));
            push_item(L, val);
            lua_rawset(L, -3);
        }
        set_marker(L, -1, &map_key);
        break;
    }
}

/* push_borrowed (protected) pushes its argument, a bay_value, for lbay_push_owned. */
static int push_borrowed(lua_State *L)
{
    lbay_push(L, lua_touserdata(L, 1));
    return 1;
}

int lbay_push_owned(lua_State *L, bay_value *v)
{
    lua_pushcfunction(L, push_borrowed);
    lua_pushlightuserdata(L, v);
    int status = lua_pcall(L, 1, 1, 0);
    bay_value_free(v);
    if (status != LUA_OK)
        return lua_error(L);
    return 1;
}

/* mark is plugbay.array / plugbay.map with the marker key. */
static int mark(lua_State *L, const void *key)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    set_marker(L, 1, key);
    return 1;
}

int lbay_mark_array(lua_State *L)
{
    return mark(L, &array_key);
}

int lbay_mark_map(lua_State *L)
{
    return mark(L, &map_key);
}

/* utf8_valid returns true when s[0..n) is well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* One conversion from Lua: where it is in the value, and the tables above it. */
typedef struct conv {
    lua_State *L;
    const void *above[BAY_CONVERT_MAX_DEPTH]; /* the tables being converted, outermost first */
    int depth;
    char where[256]; /* "result[2].name" */
    bay_error *err;
} conv;

/* fail fills the conversion's err with BAY_ETYPE and "WHERE: MESSAGE", and returns BAY_ETYPE. */
static int fail(conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(conv *c, const char *fmt, ...)
{
    char text[sizeof c->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return bay_error_set(c->err, BAY_ETYPE, NULL, "%s: %s", c->where, text);
}

/* describe_key writes the key on top of the stack as Lua source would show it,
 * without converting it in place (which would upset lua_next). */
static void describe_key(lua_State *L, char *buf, size_t size)
{
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1))
            snprintf(buf, size, "%lld", (long long)lua_tointeger(L, -1));
        else
            snprintf(buf, size, "%.17g", (double)lua_tonumber(L, -1));
        break;
    case LUA_TBOOLEAN: snprintf(buf, size, "%s", lua_toboolean(L, -1) ? "true" : "false"); break;
    case LUA_TSTRING: snprintf(buf, size, "\"%.40s\"", lua_tostring(L, -1)); break;
    default: snprintf(buf, size, "a %s", luaL_typename(L, -1)); break;
    }
}

/* marker returns the shape the table at idx is marked with, or SHAPE_NONE. */
static int marker(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return SHAPE_NONE;
    int found = SHAPE_NONE;
    const void *keys[] = {&array_key, &map_key};
    for (int s = SHAPE_ARRAY; s <= SHAPE_MAP && found == SHAPE_NONE; s++) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, keys[s]);
        if (lua_rawequal(L, -1, -2))
            found = s;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return found;
}

/* shape_of decides how the table at idx crosses: as an array (keys exactly
 * 1..*n) or a map (string keys only). The markers of plugbay.array and
 * plugbay.map (and of tables that came in as arrays or maps) decide for empty
 * tables; an unmarked empty table is an array. */
static int shape_of(conv *c, int idx, int *shape, lua_Integer *n)
{
    lua_State *L = c->L;
    lua_Integer count = 0, ints = 0, max = 0;
    int mark = marker(L, idx);
    char key[64];
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING && mark != SHAPE_ARRAY)
            continue;
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && mark != SHAPE_MAP) {
            ints++;
            max = lua_tointeger(L, -1) > max ? lua_tointeger(L, -1) : max;
            continue;
        }
        describe_key(L, key, sizeof key);
        lua_pop(L, 1);
        if (mark == SHAPE_ARRAY)
            return fail(c, "has key %s but is marked as an array (it came in as one, or plugbay.array marked it); "
                           "an array has keys 1..n only",
                        key);
        if (mark == SHAPE_MAP)
            return fail(c, "has key %s but is marked as a map (it came in as one, or plugbay.map marked it); "
                           "map keys are strings",
                        key);
        return fail(c, "has key %s: a table crosses a call as an array (keys 1..n) or a map (string keys)", key);
    }
    if (ints && ints != count)
        return fail(c, "mixes integer keys and string keys: a table crosses a call as an array (keys 1..n) or a "
                       "map (string keys), not both");
    if (ints && max != count)
        return fail(c, "is not a sequence: it has %lld integer keys but key %lld (an array has keys 1..n "
                       "without holes; a nil in the middle makes one: write plugbay.null for a null item)",
                    (long long)ints, (long long)max);
    *shape = mark != SHAPE_NONE ? mark : ints || count == 0 ? SHAPE_ARRAY : SHAPE_MAP;
    *n = count;
    return 0;
}

static int convert(conv *c, int idx, bay_value **out);

/* convert_item converts the value on top of the stack, item "suffix" of the
 * current one, adds it to container (under key when a map) and pops it. */
static int convert_item(conv *c, bay_value *container, const char *key, const char *suffix)
{
    size_t len = strlen(c->where);
    snprintf(c->where + len, sizeof c->where - len, "%s", suffix);
    bay_value *item = NULL;
    int rc = convert(c, lua_gettop(c->L), &item);
    lua_pop(c->L, 1);
    c->where[len] = '\0';
    if (rc) {
        bay_value_free(item);
        return rc;
    }
    return (key ? bay_map_set(container, key, item) : bay_array_push(container, item)) ? BAY_ENOMEM : 0;
}

/* is_name returns true when s looks like a Lua identifier (shown as .s in paths). */
static bool is_name(const char *s, size_t n)
{
    static const char word[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";
    return n > 0 && n <= 40 && !(s[0] >= '0' && s[0] <= '9') && strspn(s, word) == n;
}

/* fill_map converts the string-keyed table at idx into map. */
static int fill_map(conv *c, int idx, bay_value *map)
{
    lua_State *L = c->L;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t n;
        const char *key = lua_tolstring(L, -2, &n); /* a string: shape_of checked */
        if (memchr(key, '\0', n)) {
            lua_pop(L, 2);
            return fail(c, "has key \"%s\\0...\", which holds a NUL byte: map keys cannot", key);
        }
        char suffix[64];
        snprintf(suffix, sizeof suffix, is_name(key, n) ? ".%s" : "[\"%.40s\"]", key);
        int rc = convert_item(c, map, key, suffix);
        if (rc) {
            lua_pop(L, 1);
            return rc;
        }
    }
    return 0;
}

static int convert_table(conv *c, int idx, bay_value **out)
{
    lua_State *L = c->L;
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < c->depth; i++)
        if (c->above[i] == self)
            return fail(c, "is a table that contains itself (a cycle); a value crossing a call must be a tree");
    if (c->depth == BAY_CONVERT_MAX_DEPTH)
        return fail(c, "tables nest deeper than %d levels", BAY_CONVERT_MAX_DEPTH);
    if (!lua_checkstack(L, 4))
        return fail(c, "no room left on the Lua stack");
    int shape = SHAPE_NONE;
    lua_Integer n = 0;
    int rc = shape_of(c, idx, &shape, &n);
    if (rc)
        return rc;
    *out = shape == SHAPE_ARRAY ? bay_array() : bay_map();
    if (*out == NULL)
        return BAY_ENOMEM;
    c->above[c->depth++] = self;
    if (shape == SHAPE_MAP)
        rc = fill_map(c, idx, *out);
    for (lua_Integer i = 1; shape == SHAPE_ARRAY && rc == 0 && i <= n; i++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "[%lld]", (long long)i);
        lua_rawgeti(L, idx, i);
        rc = convert_item(c, *out, NULL, suffix);
    }
    c->depth--;
    return rc;
}

static int convert(conv *c, int idx, bay_value **out)
{
    lua_State *L = c->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: *out = bay_nil(); break;
    case LUA_TBOOLEAN: *out = bay_bool(lua_toboolean(L, idx)); break;
    case LUA_TNUMBER:
        *out = lua_isinteger(L, idx) ? bay_int((int64_t)lua_tointeger(L, idx)) : bay_float((double)lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        *out = utf8_valid((const unsigned char *)s, n) ? bay_strn(s, n) : bay_bin(s, n);
        break;
    }
    case LUA_TTABLE: return convert_table(c, idx, out);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &null_key) {
            *out = bay_nil();
            break;
        }
        /* fall through */
    default:
        return fail(c, "is a %s, which cannot cross a call (nil, booleans, numbers, strings and tables can)",
                    luaL_typename(L, idx));
    }
    return *out ? 0 : BAY_ENOMEM;
}

int lbay_to_value(lua_State *L, int idx, const char *what, bay_value **out, bay_error *err)
{
    conv c = {.L = L, .err = err};
    snprintf(c.where, sizeof c.where, "%s", what);
    *out = NULL;
    int rc = convert(&c, lua_absindex(L, idx), out);
    if (rc) {
        bay_value_free(*out);
        *out = NULL;
        if (rc == BAY_ENOMEM)
            bay_error_set(err, BAY_ENOMEM, NULL, "%s: %s", what, bay_strerror(BAY_ENOMEM));
    }
    return rc;
}
