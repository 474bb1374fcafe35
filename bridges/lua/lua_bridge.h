/* bridges/lua/lua_bridge.h — the parts of plugbay-worker-lua (sandbox, limits, values, plugin API) as they see each other. */
#ifndef BAY_LUA_BRIDGE_H
#define BAY_LUA_BRIDGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "convert.h"
#include "worker.h"

/* Defaults of the per-plugin limits, and the manifest's "limits" fields that
 * change them (plugbayd checks their ranges: broker/manifest.c). */
#define LBAY_MEMORY_MB_DEFAULT 64
#define LBAY_INSTRUCTIONS_DEFAULT 100000000LL
#define LBAY_LIMIT_MEMORY "lua_memory_mb"
#define LBAY_LIMIT_INSTRUCTIONS "lua_instructions"

/* Permissions (granted at install: plugbay install ID --grant lua.io) that open more of Lua. */
#define LBAY_PERM_IO "lua.io"           /* the io library and plugbay.data_dir() */
#define LBAY_PERM_OS "lua.os"           /* the whole os library, not only time, clock and date */
#define LBAY_PERM_DEBUG "lua.debug"     /* the debug library */
#define LBAY_PERM_PACKAGE "lua.package" /* Lua's own package library: package.path, C modules, binary chunks */

/* The one plugin this worker runs. */
typedef struct lbay_plugin {
    lua_State *L;               /* its state; NULL when not loaded */
    const bay__plugin_info *info;
    char root[PATH_MAX];        /* realpath of info->dir: require never leaves it */
    int module;                 /* registry reference to the table the entry returned */
    size_t memory_limit;        /* bytes */
    long long instructions;     /* per call */
} lbay_plugin;

extern lbay_plugin lbay;

/* limits.c */

/* lbay_state_new returns a new, empty lua_State whose allocations count
 * against limit bytes and whose instruction-count hook enforces the run
 * budgets (lbay_run_protected), or NULL when out of memory. */
lua_State *lbay_state_new(size_t limit);

/* lbay_state_close closes a state of lbay_state_new and frees its allocator's counters. */
void lbay_state_close(lua_State *L);

/* One stretch of plugin code run under a budget: a call, the entry chunk,
 * on_load or on_unload. Runs nest when a plugin waiting in plugbay.call
 * serves a call that arrives meanwhile; only the innermost one counts. */
typedef struct lbay_run {
    bay_invocation *call;        /* the call being served, or NULL */
    const char *what;      /* what runs, for messages: "greet", "on_load", "main.lua" */
    long long left;        /* instructions left */
    int stop;              /* why the hook stopped it: 0, BAY_EPLUGIN (budget), BAY_ECANCELED, BAY_ETIMEDOUT */
    char stopped_at[400];  /* the hook's message: "file:line: stopped ..." */
    int failed;            /* the code of the plugbay.fail that ended it, or 0 */
    bool recorded;         /* that failure is a plugbay.emit's or .receive's, whose message the call holds already */
    struct lbay_run *outer;
} lbay_run;

/* lbay_run_protected runs fn(L) with lua_pcall for run (its call may be
 * NULL), under the instruction budget, with ud as fn's one light userdata
 * argument and a message handler that adds file:line to any error. fn leaves
 * nres values on the stack. Returns 0 with those values on L's stack, or a
 * bay_errno code with why (file:line and message, the stop reason, or the
 * memory limit) in err and nothing pushed. */
int lbay_run_protected(lua_State *L, lbay_run *run, lua_CFunction fn, void *ud, int nres, bay_error *err);

/* lbay_running returns the lua_State that plugin code is running on now
 * (a coroutine's thread while it runs), or the main state when none runs.
 * Nested calls run on it, as a C function would call back into Lua. */
lua_State *lbay_running(void);

/* lbay_running_call returns the call the innermost run serves, or NULL outside
 * calls (the entry chunk, on_load, on_unload). */
bay_invocation *lbay_running_call(void);

/* lbay_stop ends the innermost run, a call that must stop with code
 * (BAY_ECANCELED, BAY_ETIMEDOUT: bay_call_emit or bay_call_receive said so), as the hook ends a
 * cancelled one: it raises "file:line: stopped: ..." on L, and again before
 * every instruction, whatever pcall the plugin holds on with. Never returns;
 * only while a call runs. */
int lbay_stop(lua_State *L, int code);

/* lbay_set_running records L as the running thread for the time plugbay.call
 * waits; returns the one it replaces, to be restored afterwards. */
lua_State *lbay_set_running(lua_State *L);

/* sandbox.c */

/* lbay_sandbox_open opens, in L, the libraries and functions the plugin's
 * permissions allow, the sandboxed require and the plugbay table. Raises on
 * memory errors (call it in protected mode). */
void lbay_sandbox_open(lua_State *L);

/* lbay_require_file loads and runs the plugin file rel (relative to its
 * folder, which it must not leave) with name as its argument, leaving its
 * first result on the stack. Raises a Lua error saying what is wrong. */
void lbay_require_file(lua_State *L, const char *rel, const char *name);

/* lbay_granted returns true when the plugin was granted permission perm. */
bool lbay_granted(const char *perm);

/* api.c */

/* lbay_api_open pushes the plugbay table (id, log, config, settings, setting,
 * call, emit, receive, data_dir, array, map, null, fail, store, timer, plugins) and
 * returns 1: a lua_CFunction for luaL_requiref. */
int lbay_api_open(lua_State *L);

/* lbay_fail_open registers the metatables of the errors lbay_fail and plugbay.fail raise (fail.c). */
void lbay_fail_open(lua_State *L);

/* lbay_fail raises the error of plugbay.FN (fn: "store.get", "timer.set")
 * that ended with code: a table {code = "BAY_EPERM", message = "plugbay.FN:
 * e's message (BAY_EPERM)"} whose tostring is its message. Never returns. */
int lbay_fail(lua_State *L, const char *fn, int code, const bay_error *e);

/* lbay_api_fail is plugbay.fail(code, message): it raises an error, a table
 * {code = N, message = message}, that ends the call with code N (a name such as
 * "BAY_EINVAL" or a positive number given as code) and exactly message, unless
 * the plugin's own pcall catches it. A Lua C function. */
int lbay_api_fail(lua_State *L);

/* lbay_stream_failed raises the error of plugbay.FN (fn: "emit", "receive")
 * when bay_call_emit or bay_call_receive failed with code (other than a stop,
 * lbay_stop's): plugbay.fail's, a table {code = code, message = "plugbay.FN:
 * ...", recorded = true}, that ends the call with code and the message the
 * function recorded in it, unless the plugin's own pcall catches it. Never
 * returns. */
int lbay_stream_failed(lua_State *L, const char *fn, int code);

/* lbay_failure_code returns the code of the value at idx when it is an error
 * plugbay.fail (or lbay_stream_failed) raised, else 0; *recorded tells whether
 * it is lbay_stream_failed's. */
int lbay_failure_code(lua_State *L, int idx, bool *recorded);

/* lbay_check_text returns argument idx, a string without NUL bytes (C sees it
 * up to the first one), or raises the argument error saying what is wrong. */
const char *lbay_check_text(lua_State *L, int idx);

/* store.c */

/* lbay_store_open pushes the plugbay.store table (get, put, delete, keys,
 * sql), whose functions raise as lbay_fail does when the store fails.
 * Raises on memory errors (call it in protected mode). */
void lbay_store_open(lua_State *L);

/* manage.c */

/* lbay_manage_open sets the fields timer (set, remove, list) and plugins
 * (list, load, unload, reload) of the plugbay table on top of L's stack,
 * whose functions raise as lbay_fail does. Raises on memory errors (call it
 * in protected mode). */
void lbay_manage_open(lua_State *L);

#endif
