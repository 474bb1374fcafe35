/* bridges/lua/manage.c — plugbay.timer and plugbay.plugins: plugin.h's timers at run time and plugins managed from a plugin, in Lua's terms. */
#include "lua_bridge.h"

#include <lauxlib.h>

/* answer ends plugbay.FN (fn: "timer.set") that gave rc, with was running
 * again (the thread lbay_set_running(L) replaced while plugin.h's function
 * ran): raises its error (lbay_fail), or returns out (new, pushed; NULL: nothing). */
static int answer(lua_State *L, lua_State *was, const char *fn, int rc, bay_value *out, const bay_error *e)
{
    lbay_set_running(was);
    if (rc) {
        bay_value_free(out);
        return lbay_fail(L, fn, rc, e);
    }
    return out ? lbay_push_owned(L, out) : 0;
}

/* plugbay.timer.set(name, interval_ms, function): sets timer name (or moves
 * it) to call the function of that name in the plugin's table every interval_ms. */
static int timer_set(lua_State *L)
{
    const char *name = lbay_check_text(L, 1);
    lua_Integer interval_ms = luaL_checkinteger(L, 2);
    const char *function = lbay_check_text(L, 3);
    bay_error e;
    lua_State *was = lbay_set_running(L); /* has(function), and calls served while it waits, run on this thread */
    int rc = bay_timer_set(name, interval_ms, function, &e);
    return answer(L, was, "timer.set", rc, NULL, &e);
}

/* plugbay.timer.remove(name): stops timer name. */
static int timer_remove(lua_State *L)
{
    const char *name = lbay_check_text(L, 1);
    bay_error e;
    lua_State *was = lbay_set_running(L);
    int rc = bay_timer_remove(name, &e);
    return answer(L, was, "timer.remove", rc, NULL, &e);
}

/* A list plugbay gives: plugbay.FN and the plugin.h function that makes it. */
typedef struct lister {
    const char *fn;
    int (*list)(bay_value **out, bay_error *err);
} lister;

static const lister timers = {"timer.list", bay_timer_list}, plugins = {"plugins.list", bay_plugins_list};

/* plugbay.timer.list() (upvalue 1: &timers): an array of the plugin's timers, {name, interval_ms, function,
 * next_in_ms, running, set_at_run_time}; plugbay.plugins.list() (&plugins): an array of {id, version, state,
 * reason} of the plugin and each one it may manage. */
static int list(lua_State *L)
{
    const lister *l = lua_touserdata(L, lua_upvalueindex(1));
    bay_value *out = NULL;
    bay_error e;
    lua_State *was = lbay_set_running(L);
    int rc = l->list(&out, &e);
    return answer(L, was, l->fn, rc, out, &e);
}

/* plugbay.plugins.load/unload/reload(id) (upvalue 1: "load", "unload" or
 * "reload"): runs it on plugin id and returns id's {id, version, state, reason}. */
static int plugins_manage(lua_State *L)
{
    const char *id = lbay_check_text(L, 1);
    const char *what = lua_tostring(L, lua_upvalueindex(1));
    const char *fn = lua_pushfstring(L, "plugins.%s", what);
    bay_value *out = NULL;
    bay_error e;
    lua_State *was = lbay_set_running(L);
    int rc = bay_plugins_manage(what, id, &out, &e);
    return answer(L, was, fn, rc, out, &e);
}

void lbay_manage_open(lua_State *L)
{
    static const luaL_Reg timer[] = {{"set", timer_set}, {"remove", timer_remove}, {NULL, NULL}};
    static const char *const manage[] = {"load", "unload", "reload", NULL};
    luaL_newlib(L, timer);
    lua_pushlightuserdata(L, (void *)&timers);
    lua_pushcclosure(L, list, 1);
    lua_setfield(L, -2, "list");
    lua_setfield(L, -2, "timer");
    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, (void *)&plugins);
    lua_pushcclosure(L, list, 1);
    lua_setfield(L, -2, "list");
    for (const char *const *what = manage; *what; what++) {
        lua_pushstring(L, *what);
        lua_pushcclosure(L, plugins_manage, 1);
        lua_setfield(L, -2, *what);
    }
    lua_setfield(L, -2, "plugins");
}
