/* bridges/lua/store.c — plugbay.store: the plugin's storage (plugin.h's bay_store_*) in Lua's terms. */
#include "lua_bridge.h"

#include <string.h>

#include <lauxlib.h>

/* The metatable of the errors plugbay.store raises. */
#define ERROR_META "plugbay.error"

/* fail raises the error of plugbay.store.fn that ended with code: a table
 * {code = "BAY_EPERM", message = "plugbay.store.sql: ... (BAY_EPERM)"}
 * whose tostring is its message. */
static int fail(lua_State *L, const char *fn, int code, const bay_error *e)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, bay_errname(code));
    lua_setfield(L, -2, "code");
    lua_pushfstring(L, "plugbay.store.%s: %s (%s)", fn, e->message, bay_errname(code));
    lua_setfield(L, -2, "message");
    luaL_setmetatable(L, ERROR_META);
    return lua_error(L);
}

/* error_tostring is the errors' __tostring: their message. */
static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    return 1;
}

/* text_arg returns argument idx, a string without NUL bytes (C sees it up to the first one). */
static const char *text_arg(lua_State *L, int idx)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    luaL_argcheck(L, strlen(s) == n, idx, "holds a NUL byte, which keys and SQL cannot");
    return s;
}

/* plugbay.store.get(key): the value stored under key, or nil when there is none. */
static int store_get(lua_State *L)
{
    bay_value *v = NULL;
    bay_error e;
    int rc = bay_store_get(text_arg(L, 1), &v, &e);
    if (rc == BAY_ENOENT) {
        lua_pushnil(L);
        return 1;
    }
    if (rc)
        return fail(L, "get", rc, &e);
    return lbay_push_owned(L, v);
}

/* plugbay.store.put(key, value): stores value under key, replacing what was there. */
static int store_put(lua_State *L)
{
    const char *key = text_arg(L, 1);
    luaL_checkany(L, 2);
    bay_value *v;
    bay_error e;
    int rc = lbay_to_value(L, 2, "value", &v, &e);
    if (rc == 0) {
        rc = bay_store_put(key, v, &e);
        bay_value_free(v);
    }
    return rc ? fail(L, "put", rc, &e) : 0;
}

/* plugbay.store.delete(key): removes key, whether or not it was there. */
static int store_delete(lua_State *L)
{
    bay_error e;
    int rc = bay_store_delete(text_arg(L, 1), &e);
    return rc ? fail(L, "delete", rc, &e) : 0;
}

/* plugbay.store.keys([prefix]): an array of the keys starting with prefix (all without one), in byte order. */
static int store_keys(lua_State *L)
{
    const char *prefix = lua_isnoneornil(L, 1) ? NULL : text_arg(L, 1);
    bay_value *keys = NULL;
    bay_error e;
    int rc = bay_store_keys(prefix, &keys, &e);
    return rc ? fail(L, "keys", rc, &e) : lbay_push_owned(L, keys);
}

/* plugbay.store.sql(sql[, params]): runs one statement with params (an array
 * for ?, a map for :name) and returns its rows, an array of maps. */
static int store_sql(lua_State *L)
{
    const char *sql = text_arg(L, 1);
    bay_value *params = NULL, *rows = NULL;
    bay_error e;
    int rc = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        rc = lbay_to_value(L, 2, "params", &params, &e);
    }
    if (rc == 0)
        rc = bay_store_sql(sql, params, &rows, &e);
    bay_value_free(params);
    return rc ? fail(L, "sql", rc, &e) : lbay_push_owned(L, rows);
}

void lbay_store_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get", store_get},   {"put", store_put}, {"delete", store_delete},
        {"keys", store_keys}, {"sql", store_sql}, {NULL, NULL},
    };
    luaL_newmetatable(L, ERROR_META);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, ERROR_META); /* out of the plugin's reach, as plugbay.array's (convert.c) */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    luaL_newlib(L, fns);
}
