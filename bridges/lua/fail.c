/* bridges/lua/fail.c — the errors plugbay's Lua functions raise: a table {code, message} whose tostring is its message. */
#include "lua_bridge.h"

#include <string.h>

#include <lauxlib.h>

/* The metatable of the errors lbay_fail raises. */
#define ERROR_META "plugbay.error"

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

void lbay_fail_open(lua_State *L)
{
    luaL_newmetatable(L, ERROR_META);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, ERROR_META); /* out of the plugin's reach, as plugbay.array's (convert.c) */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
