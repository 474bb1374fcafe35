/* bridges/lua/main.c — plugbay-worker-lua: the bridge that runs Lua 5.4 plugins, one sandboxed lua_State per worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_bridge.h"
#include "zygote.h"

lbay_plugin lbay = {.module = LUA_NOREF};

/* read_limits sets lbay's limits from the manifest, or their defaults. */
static void read_limits(const bay__plugin_info *p)
{
    lbay.instructions = bay__plugin_limit(p, LBAY_LIMIT_INSTRUCTIONS, LBAY_INSTRUCTIONS_DEFAULT);
    lbay.memory_limit = (size_t)bay__plugin_limit(p, LBAY_LIMIT_MEMORY, LBAY_MEMORY_MB_DEFAULT) << 20;
}

/* What open_module reports back besides Lua errors. */
typedef struct opening {
    const char *const *functions; /* the manifest's function names */
    int code;                     /* BAY_EMANIFEST when one is missing */
    char message[400];
} opening;

/* list_functions writes the names of the module's function fields (table at idx), comma-separated. */
static void list_functions(lua_State *L, int idx, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION && used < size) {
            int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", lua_tostring(L, -2));
            used += w > 0 ? (size_t)w : 0;
        }
        lua_pop(L, 1);
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "none");
}

/* The plugin's optional functions: its own on_load and on_unload, and plugin.h's hooks. */
static const char *const optional[] = {"on_load",   "on_unload",    "on_install",
                                       "on_update", "on_uninstall", "on_settings", NULL};

/* get_optional pushes field name of the plugin's table (at idx) and returns
 * its type: a function or nil; anything else raises an error saying so. */
static int get_optional(lua_State *L, int idx, const char *name)
{
    int type = lua_getfield(L, idx, name);
    if (type != LUA_TFUNCTION && type != LUA_TNIL)
        return luaL_error(L, "%s/%s: field %s of the plugin's table is a %s; it must be a function or nil",
                          lbay.info->id, lbay.info->entry, name, luaL_typename(L, -1));
    return type;
}

/* open_module (protected) fills the state, runs the entry file, checks the
 * table it returns against the manifest and keeps it as lbay.module. */
static int open_module(lua_State *L)
{
    opening *o = lua_touserdata(L, 1);
    const char *id = lbay.info->id, *entry = lbay.info->entry;
    lbay_convert_open(L);
    lbay_sandbox_open(L);
    lbay_require_file(L, entry, entry);
    if (!lua_istable(L, -1))
        return luaL_error(L, "%s/%s returned %s%s; it must return a table of the plugin's functions, e.g. "
                             "return {greet = greet}",
                          id, entry, lua_isnil(L, -1) ? "nothing" : "a ", lua_isnil(L, -1) ? "" : luaL_typename(L, -1));
    for (const char *const *fn = o->functions; *fn && o->code == 0; fn++) {
        if (lua_getfield(L, -1, *fn) != LUA_TFUNCTION) {
            char names[256];
            list_functions(L, lua_absindex(L, -2), names, sizeof names);
            o->code = BAY_EMANIFEST;
            snprintf(o->message, sizeof o->message,
                     "plugin.json names function \"%s\" but the table %s/%s returns has %s there; its functions "
                     "are: %s",
                     *fn, id, entry, luaL_typename(L, -1), names);
        }
        lua_pop(L, 1);
    }
    for (const char *const *fn = optional; *fn && o->code == 0; fn++) {
        get_optional(L, -1, *fn);
        lua_pop(L, 1);
    }
    lbay.module = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* call_lifecycle (protected) calls the module's optional function named by its argument (on_load, on_unload). */
static int call_lifecycle(lua_State *L)
{
    const char *name = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lbay.module);
    if (get_optional(L, -1, name) == LUA_TFUNCTION)
        lua_call(L, 0, 0);
    return 0;
}

/* lifecycle runs the plugin's on_load or on_unload, if it has one, under the
 * instruction budget. Returns 0, or a bay_errno code with why in err. */
static int lifecycle(const char *name, bay_error *err)
{
    lbay_run run = {.what = name, .left = lbay.instructions};
    return lbay_run_protected(lbay.L, &run, call_lifecycle, (void *)name, 0, err);
}

static void close_state(void)
{
    lbay_state_close(lbay.L);
    lbay.L = NULL;
    lbay.module = LUA_NOREF;
}

/* open_plugin creates the state, runs the entry file and checks the manifest's functions. */
static int open_plugin(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    if (realpath(p->dir, lbay.root) == NULL)
        return bay_error_set(err, BAY_EIO, p->id, "cannot resolve the plugin folder %s: %s", p->dir, strerror(errno));
    lbay.L = lbay_state_new(lbay.memory_limit);
    if (lbay.L == NULL)
        return bay_error_set(err, BAY_ENOMEM, p->id, "cannot create a Lua state: %s", bay_strerror(BAY_ENOMEM));
    opening o = {.functions = functions};
    lbay_run run = {.what = p->entry, .left = lbay.instructions};
    bay_error e;
    int rc = lbay_run_protected(lbay.L, &run, open_module, &o, 0, &e);
    if (rc)
        return bay_error_set(err, rc, p->id, "%s", e.message);
    if (o.code)
        return bay_error_set(err, o.code, p->id, "%s", o.message);
    rc = lifecycle("on_load", &e);
    if (rc)
        return bay_error_set(err, rc, p->id, "on_load failed: %s", e.message);
    return 0;
}

static int lua_load_plugin(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    lbay.info = p;
    read_limits(p);
    int rc = open_plugin(p, functions, err);
    if (rc && lbay.L)
        close_state();
    return rc;
}

/* A call in progress: what run_function needs. */
typedef struct calling {
    const char *function;
    const bay_value *args;
} calling;

/* run_function (protected) calls the plugin's function with the call's arguments, leaving its first result. */
static int run_function(lua_State *L)
{
    calling *c = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lbay.module);
    if (lua_getfield(L, -1, c->function) != LUA_TFUNCTION)
        return luaL_error(L, "%s/%s: the plugin's table no longer has a function %s (it holds a %s now)",
                          lbay.info->id, lbay.info->entry, c->function, luaL_typename(L, -1));
    size_t n = bay_value_len(c->args);
    luaL_checkstack(L, n < INT_MAX ? (int)n : INT_MAX, "too many arguments for one Lua call");
    for (size_t i = 0; i < n; i++)
        lbay_push(L, bay_array_get(c->args, i));
    lua_call(L, (int)n, 1);
    return 1;
}

static int lua_call_plugin(const char *function, bay_invocation *call, const bay_value *args, bay_value **result)
{
    lua_State *L = lbay_running();
    lbay_run run = {.call = call, .what = function, .left = lbay.instructions};
    calling c = {function, args};
    bay_error e;
    int rc = lbay_run_protected(L, &run, run_function, &c, 1, &e);
    if (rc && run.recorded && rc == run.failed)
        return rc; /* a failed plugbay.emit or .receive: the call holds its message */
    if (rc)
        return bay_call_error(call, rc, "%s", e.message);
    rc = lbay_to_value(L, -1, "result", result, &e);
    lua_pop(L, 1);
    if (rc)
        return bay_call_error(call, rc, "%s/%s: function %s returned a value that cannot cross a call: %s",
                              lbay.info->id, lbay.info->entry, function, e.message);
    return 0;
}

/* find_function (protected) pushes whether the plugin's table has a function named by its argument. */
static int find_function(lua_State *L)
{
    const char *function = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lbay.module);
    lua_pushboolean(L, lua_getfield(L, -1, function) == LUA_TFUNCTION);
    return 1;
}

/* lua_has tells whether the plugin's table has a function by that name (a
 * hook, a timer's function); a lookup that fails (an __index of the table
 * raising) is logged and counts as no. */
static bool lua_has(const char *function)
{
    lua_State *L = lbay_running();
    lbay_run run = {.what = function, .left = lbay.instructions};
    bay_error e;
    if (lbay_run_protected(L, &run, find_function, (void *)function, 1, &e) != 0) {
        bay_plugin_log(BAY_LOG_ERROR, "cannot tell whether the plugin has a function %s: %s", function, e.message);
        return false;
    }
    bool found = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return found;
}

static void lua_unload_plugin(void)
{
    bay_error e;
    if (lifecycle("on_unload", &e))
        bay_plugin_log(BAY_LOG_ERROR, "on_unload failed: %s", e.message);
    close_state();
}

static const bay__bridge lua_bridge = {
    .language = "lua",
    .load = lua_load_plugin,
    .call = lua_call_plugin,
    .unload = lua_unload_plugin,
    .has = lua_has,
};

int main(int argc, char **argv)
{
    bay__zygote(argc, argv, &lua_bridge);
    return bay__worker_main(&lua_bridge);
}
