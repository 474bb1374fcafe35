/* bridges/lua/api.c — the plugbay table a Lua plugin sees: the plugin API of plugbay/plugin.h in Lua's terms. */
#include "lua_bridge.h"

#include <stdio.h>

#include <lauxlib.h>

/* plugbay.log(level, format, ...): level "debug", "info", "warn" or "error";
 * the rest as string.format makes it. Upvalue 1: string.format. */
static int api_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int level = luaL_checkoption(L, 1, NULL, levels);
    luaL_checkstring(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_replace(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    bay_plugin_log(level, "%s", lua_tostring(L, -1));
    return 0;
}

/* plugbay.config([key]): the whole configuration as a new table, or the value of key. */
static int api_config(lua_State *L)
{
    const bay_value *config = bay_plugin_config();
    if (lua_isnoneornil(L, 1))
        lbay_push(L, config);
    else
        lbay_push(L, bay_map_get(config, luaL_checkstring(L, 1)));
    return 1;
}

/* push_result is the protected part of plugbay.call: it pushes the result
 * (light userdata, a bay_value), so the caller can free it even when that
 * raises a memory error. */
static int push_result(lua_State *L)
{
    lbay_push(L, lua_touserdata(L, 1));
    return 1;
}

/* plugbay.call(name, ...): calls extension point name through the broker with
 * the other arguments. Returns its result, or nil, a message and the error's
 * name ("BAY_ENOENT") when it fails, as io.open does. */
static int api_call(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    int n = lua_gettop(L);
    bay_value *args = bay_array();
    if (args == NULL)
        return luaL_error(L, "plugbay.call(\"%s\"): %s", name, bay_strerror(BAY_ENOMEM));
    for (int i = 2; i <= n; i++) {
        char what[64];
        bay_error e;
        bay_value *v;
        snprintf(what, sizeof what, "argument %d", i - 1);
        int rc = lbay_to_value(L, i, what, &v, &e);
        if (rc == 0 && bay_array_push(args, v) != 0)
            rc = bay_error_set(&e, BAY_ENOMEM, NULL, "%s", bay_strerror(BAY_ENOMEM));
        if (rc) {
            bay_value_free(args);
            return luaL_error(L, "plugbay.call(\"%s\"): %s", name, e.message);
        }
    }
    bay_value *result = NULL;
    bay_error err = {0};
    lua_State *was = lbay_set_running(L); /* calls served while it waits run on this thread */
    int rc = bay_plugin_call(name, args, 0, &result, &err);
    lbay_set_running(was);
    bay_value_free(args);
    if (rc) {
        lua_pushnil(L);
        lua_pushfstring(L, "plugbay.call(\"%s\"): %s%s%s", name, err.plugin, err.plugin[0] ? ": " : "", err.message);
        lua_pushstring(L, bay_errname(rc));
        return 3;
    }
    lua_pushcfunction(L, push_result);
    lua_pushlightuserdata(L, result);
    int status = lua_pcall(L, 1, 1, 0);
    bay_value_free(result);
    if (status != LUA_OK)
        return lua_error(L);
    return 1;
}

/* plugbay.data_dir(): the plugin's private folder; only with permission lua.io, which can open files. */
static int api_data_dir(lua_State *L)
{
    if (!lbay_granted(LBAY_PERM_IO))
        return luaL_error(L, "plugbay.data_dir() needs the permission \"" LBAY_PERM_IO "\", which its manifest must ask for "
                             "(`plugbay grant %s --grant " LBAY_PERM_IO "`, then `plugbay reload %s`): without it the "
                             "plugin cannot open files",
                          bay_plugin_id(), bay_plugin_id());
    lua_pushstring(L, bay_plugin_data_dir());
    return 1;
}

int lbay_api_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"config", api_config}, {"call", api_call},      {"data_dir", api_data_dir},
        {"array", lbay_mark_array}, {"map", lbay_mark_map}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_pushstring(L, bay_plugin_id());
    lua_setfield(L, -2, "id");
    lbay_push_null(L);
    lua_setfield(L, -2, "null");
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "format");
    lua_pushcclosure(L, api_log, 1);
    lua_setfield(L, -3, "log");
    lua_pop(L, 1);
    return 1;
}
