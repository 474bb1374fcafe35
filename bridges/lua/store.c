/* bridges/lua/store.c — plugbay.store: the plugin's storage (plugin.h's bay_store_*) in Lua's terms. */
#include "lua_bridge.h"

#include <lauxlib.h>

/* plugbay.store.get(key): the value stored under key, or nil when there is none. */
static int store_get(lua_State *L)
{
    bay_value *v = NULL;
    bay_error e;
    int rc = bay_store_get(lbay_check_text(L, 1), &v, &e);
    if (rc == BAY_ENOENT) {
        lua_pushnil(L);
        return 1;
    }
    if (rc)
        return lbay_fail(L, "store.get", rc, &e);
    return lbay_push_owned(L, v);
}

/* plugbay.store.put(key, value): stores value under key, replacing what was there. */
static int store_put(lua_State *L)
{
    const char *key = lbay_check_text(L, 1);
    luaL_checkany(L, 2);
    bay_value *v;
    bay_error e;
    int rc = lbay_to_value(L, 2, "value", &v, &e);
    if (rc == 0) {
        rc = bay_store_put(key, v, &e);
        bay_value_free(v);
    }
    return rc ? lbay_fail(L, "store.put", rc, &e) : 0;
}

/* plugbay.store.delete(key): removes key, whether or not it was there. */
static int store_delete(lua_State *L)
{
    bay_error e;
    int rc = bay_store_delete(lbay_check_text(L, 1), &e);
    return rc ? lbay_fail(L, "store.delete", rc, &e) : 0;
}

/* plugbay.store.keys([prefix]): an array of the keys starting with prefix (all without one), in byte order. */
static int store_keys(lua_State *L)
{
    const char *prefix = lua_isnoneornil(L, 1) ? NULL : lbay_check_text(L, 1);
    bay_value *keys = NULL;
    bay_error e;
    int rc = bay_store_keys(prefix, &keys, &e);
    return rc ? lbay_fail(L, "store.keys", rc, &e) : lbay_push_owned(L, keys);
}

/* plugbay.store.sql(sql[, params]): runs one statement with params (an array
 * for ?, a map for :name) and returns its rows, an array of maps. */
static int store_sql(lua_State *L)
{
    const char *sql = lbay_check_text(L, 1);
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
    return rc ? lbay_fail(L, "store.sql", rc, &e) : lbay_push_owned(L, rows);
}

void lbay_store_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get", store_get},   {"put", store_put}, {"delete", store_delete},
        {"keys", store_keys}, {"sql", store_sql}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
}
