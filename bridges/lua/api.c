/* bridges/lua/api.c — the plugbay table a Lua plugin sees: the plugin API of plugbay/plugin.h in Lua's terms. */
#include "lua_bridge.h"

#include <stdio.h>
#include <string.h>

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

/* plugbay.settings(): every setting the manifest declares and its value, as a new table. */
static int api_settings(lua_State *L)
{
    lbay_push(L, bay_plugin_settings());
    return 1;
}

/* plugbay.setting(key): the value of setting key, or nil when the manifest declares no such setting. */
static int api_setting(lua_State *L)
{
    lbay_push(L, bay_plugin_setting(luaL_checkstring(L, 1)));
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
    return lbay_push_owned(L, result);
}

/* running_call returns the call the running function serves, or raises the
 * error of plugbay.FN (fn "emit", does "emits") outside one. */
static bay_invocation *running_call(lua_State *L, const char *fn, const char *does)
{
    bay_invocation *call = lbay_running_call();
    if (call == NULL) {
        bay_error e;
        bay_error_set(&e, BAY_ESTATE, NULL, "no call is running: a function %s while it serves a call, not in the "
                                            "entry file, on_load or on_unload", does);
        lbay_fail(L, fn, BAY_ESTATE, &e);
    }
    return call;
}

/* plugbay.emit(value): sends value, converted as a result is, as the next
 * chunk of the running call's streamed answer (bay_call_emit). A call that
 * must stop ends as the hook ends a cancelled one (lbay_stop); another
 * failure raises lbay_stream_failed's error. */
static int api_emit(lua_State *L)
{
    luaL_checkany(L, 1);
    bay_invocation *call = running_call(L, "emit", "emits");
    bay_value *chunk = NULL;
    bay_error e;
    int rc = lbay_to_value(L, 1, "chunk", &chunk, &e);
    if (rc)
        return lbay_fail(L, "emit", rc, &e);
    rc = bay_call_emit(call, chunk);
    bay_value_free(chunk);
    if (rc == BAY_ECANCELED || rc == BAY_ETIMEDOUT)
        return lbay_stop(L, rc);
    return rc ? lbay_stream_failed(L, "emit", rc) : 0;
}

/* plugbay.receive(): the next chunk of the input the running call's caller
 * streams (bay_call_receive), converted as an argument is (a nil chunk as
 * plugbay.null), or nil once the input ended. A stop ends the call as
 * plugbay.emit's does; no input raises lbay_stream_failed's error. */
static int api_receive(lua_State *L)
{
    bay_invocation *call = running_call(L, "receive", "receives");
    bay_value *chunk = NULL;
    int rc = bay_call_receive(call, &chunk);
    if (rc == BAY_ECANCELED || rc == BAY_ETIMEDOUT)
        return lbay_stop(L, rc);
    if (rc)
        return lbay_stream_failed(L, "receive", rc);
    if (chunk && bay_value_type(chunk) == BAY_NIL) {
        bay_value_free(chunk);
        lbay_push_null(L);
        return 1;
    }
    return lbay_push_owned(L, chunk);
}

/* plugbay.data_dir(): the plugin's private folder, as every plugin learns it (opening files there needs lua.io). */
static int api_data_dir(lua_State *L)
{
    lua_pushstring(L, bay_plugin_data_dir());
    return 1;
}

int lbay_api_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"config", api_config},     {"settings", api_settings}, {"setting", api_setting}, {"call", api_call},
        {"emit", api_emit},         {"receive", api_receive},   {"data_dir", api_data_dir}, {"array", lbay_mark_array}, {"map", lbay_mark_map},
        {"fail", lbay_api_fail},    {NULL, NULL},
    };
    lbay_fail_open(L);
    luaL_newlib(L, fns);
    lbay_store_open(L);
    lua_setfield(L, -2, "store");
    lbay_manage_open(L);
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
