/* bridges/lua/fail.c — the errors plugbay's Lua functions raise, and plugbay.fail's (a failed plugbay.emit's or plugbay.receive's too), which end a call with their code: tables {code, message} whose tostring is their message. */
#include "lua_bridge.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

/* The metatable of the errors lbay_fail raises. */
#define ERROR_META "plugbay.error"
/* The metatable of the errors plugbay.fail raises: the call fails with their code. */
#define FAILURE_META "plugbay.failure"

int lbay_fail(lua_State *L, const char *fn, int code, const bay_error *e)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, bay_errname(code));
    lua_setfield(L, -2, "code");
    lua_pushfstring(L, "plugbay.%s: %s (%s)", fn, e->message, bay_errname(code));
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

const char *lbay_check_text(lua_State *L, int idx)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    luaL_argcheck(L, strlen(s) == n, idx, "holds a NUL byte, which names, keys and SQL cannot");
    return s;
}

/* code_arg returns argument idx of plugbay.fail as a code: a positive integer, or a code's name. */
static int code_arg(lua_State *L, int idx)
{
    if (lua_isinteger(L, idx)) {
        lua_Integer code = lua_tointeger(L, idx);
        luaL_argcheck(L, code > 0 && code <= INT32_MAX, idx, "a code is a positive number");
        return (int)code;
    }
    const char *name = luaL_checkstring(L, idx);
    int code = bay_errcode(name);
    if (code)
        return code;
    return luaL_argerror(L, idx, lua_pushfstring(L, "\"%s\" names no plugbay error code (\"BAY_EINVAL\", ...)", name));
}

/* raise_failure raises the error of plugbay.fail: a table {code = code,
 * message = the string on top of the stack}, and recorded = true when it is
 * lbay_stream_failed's. */
static int raise_failure(lua_State *L, int code, bool recorded)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "code");
    lua_rotate(L, -2, 1); /* the message on top */
    lua_setfield(L, -2, "message");
    if (recorded) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "recorded");
    }
    luaL_setmetatable(L, FAILURE_META);
    return lua_error(L);
}

int lbay_api_fail(lua_State *L)
{
    int code = code_arg(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    return raise_failure(L, code, false);
}

int lbay_stream_failed(lua_State *L, const char *fn, int code)
{
    lua_pushfstring(L, "plugbay.%s: %s (%s)", fn, bay_strerror(code), bay_errname(code));
    return raise_failure(L, code, true);
}

int lbay_failure_code(lua_State *L, int idx, bool *recorded)
{
    *recorded = false;
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, FAILURE_META);
    bool failure = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!failure)
        return 0;
    idx = lua_absindex(L, idx);
    lua_pushliteral(L, "recorded");
    *recorded = lua_rawget(L, idx) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pushliteral(L, "code");
    lua_rawget(L, idx);
    lua_Integer code = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    lua_pop(L, 2);
    return code > 0 && code <= INT32_MAX ? (int)code : 0;
}

/* open_meta registers the metatable name whose __tostring is the error's message. */
static void open_meta(lua_State *L, const char *name)
{
    luaL_newmetatable(L, name);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, name); /* out of the plugin's reach, as plugbay.array's (convert.c) */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

void lbay_fail_open(lua_State *L)
{
    open_meta(L, ERROR_META);
    open_meta(L, FAILURE_META);
}
