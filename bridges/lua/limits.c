/* bridges/lua/limits.c — a Lua plugin's limits through Lua's own mechanisms: the allocator caps memory, the count hook caps instructions and stops cancelled calls. */
#include "lua_bridge.h"
#include "refusals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Instructions between two runs of the hook while a run is within budget. */
#define HOOK_EVERY 1000

/* What the allocator counts; the state's allocator userdata. */
typedef struct memory {
    size_t used, limit;
} memory;

static lbay_run *current;  /* innermost run, NULL between runs */
static lua_State *running; /* thread the innermost run's code runs on */

static void *alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    memory *m = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize tells the kind of object */
    if (nsize == 0) {
        free(ptr);
        m->used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > m->limit - m->used) {
        bay__refused("lua memory cap");
        return NULL; /* Lua raises a memory error (LUA_ERRMEM) */
    }
    void *p = realloc(ptr, nsize);
    if (p)
        m->used = m->used - old + nsize;
    return p;
}

/* stop_reason says why the hook stopped run. */
static const char *stop_reason(const lbay_run *run, char *buf, size_t size)
{
    switch (run->stop) {
    case BAY_ECANCELED: return "stopped: the caller cancelled the call";
    case BAY_ETIMEDOUT: return "stopped: the call's deadline passed";
    default:
        snprintf(buf, size,
                 "stopped after %lld instructions, the limit of %s%s (limits." LBAY_LIMIT_INSTRUCTIONS
                 " in plugin.json); does it loop forever?",
                 lbay.instructions, run->call ? "one call" : "running ", run->call ? "" : run->what);
        return buf;
    }
}

/* where pushes "file:line: " of the innermost Lua function on the stack, or "". */
static void where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); level++) { /* C functions (the caller's own) have no line */
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "");
}

static void hook(lua_State *L, lua_Debug *ar);

/* halt raises on L the error of run, stopped (run->stop says why), and makes
 * the hook raise it again before every instruction of L, so that a pcall in
 * the plugin cannot hold on. */
static int halt(lua_State *L, lbay_run *run)
{
    if (lua_gethookcount(L) != 1)
        lua_sethook(L, hook, LUA_MASKCOUNT, 1);
    if (run->stopped_at[0] == '\0') { /* where the budget ran out, not where the plugin let go */
        char buf[256];
        where(L);
        snprintf(run->stopped_at, sizeof run->stopped_at, "%s%s", lua_tostring(L, -1),
                 stop_reason(run, buf, sizeof buf));
        lua_pop(L, 1);
    }
    lua_pushstring(L, run->stopped_at);
    return lua_error(L);
}

/* hook runs every HOOK_EVERY instructions of any thread: it spends the
 * innermost run's budget and watches its call. Once a run is stopped it
 * raises before every instruction (halt). */
static void hook(lua_State *L, lua_Debug *ar)
{
    lbay_run *run = current;
    if (run == NULL)
        return;
    int every = lua_gethookcount(L);
    if (run->stop == 0) {
        if (run->call && (run->stop = bay_call_cancelled(run->call)) != 0) {
            /* stopped by its caller or its deadline: run->stop says which */
        } else if ((run->left -= every) < 0) {
            run->stop = BAY_EPLUGIN;
            bay__refused("lua instruction budget");
        } else {
            if (every != HOOK_EVERY) /* a thread last run by a stopped run */
                lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
            return;
        }
    }
    halt(L, run);
}

bay_invocation *lbay_running_call(void)
{
    return current ? current->call : NULL;
}

int lbay_stop(lua_State *L, int code)
{
    if (current->stop == 0)
        current->stop = code;
    return halt(L, current);
}

lua_State *lbay_state_new(size_t limit)
{
    memory *m = malloc(sizeof *m);
    if (m == NULL)
        return NULL;
    *m = (memory){0, limit};
    lua_State *L = lua_newstate(alloc, m);
    if (L == NULL) {
        free(m);
        return NULL;
    }
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY); /* coroutines inherit it */
    return L;
}

void lbay_state_close(lua_State *L)
{
    void *m;
    lua_getallocf(L, &m);
    lua_close(L);
    free(m);
}

/* message_handler turns an error value into the message the caller gets.
 * Lua's own errors and error("text") already start with file:line; a value
 * that is not a string gets the place it was raised and words for it. */
static int message_handler(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING)
        return 1;
    bool recorded;
    int code = lbay_failure_code(L, 1, &recorded);
    if (code && current) { /* plugbay.fail: its code and its message as they are */
        current->failed = code;
        current->recorded = recorded;
        lua_getfield(L, 1, "message");
        return 1;
    }
    where(L); /* 2 */
    if (lua_type(L, 1) == LUA_TTABLE && lua_getfield(L, 1, "message") == LUA_TSTRING) {
        lua_concat(L, 2);
        return 1;
    }
    lua_settop(L, 2);
    if (luaL_getmetafield(L, 1, "__tostring") != LUA_TNIL) {
        lua_pop(L, 1);
        luaL_tolstring(L, 1, NULL);
    } else if (lua_type(L, 1) == LUA_TTABLE) {
        lua_pushliteral(L, "error raised with a table value that has no \"message\" field and no __tostring "
                           "metamethod; raise a string: error(\"what went wrong\")");
    } else {
        const char *value = luaL_tolstring(L, 1, NULL); /* 3 */
        lua_pushfstring(L, "error raised with a %s value (%s); raise a string: error(\"what went wrong\")",
                        luaL_typename(L, 1), value);
        lua_remove(L, 3);
    }
    lua_concat(L, 2);
    return 1;
}

lua_State *lbay_running(void)
{
    return running ? running : lbay.L;
}

lua_State *lbay_set_running(lua_State *L)
{
    lua_State *was = running;
    running = L;
    return was;
}

/* failure fills err with why the run ended with status, and returns its code. */
static int failure(lua_State *L, const lbay_run *run, int status, bay_error *err)
{
    if (run->stop) /* whatever the plugin's code made of the hook's error on its way out */
        return bay_error_set(err, run->stop, NULL, "%s", run->stopped_at);
    switch (status) {
    case LUA_ERRMEM:
        return bay_error_set(err, BAY_ENOMEM, NULL,
                             "%s ran out of memory: the plugin's Lua state may use %zu MB (limits." LBAY_LIMIT_MEMORY
                             " in plugin.json)",
                             run->what, lbay.memory_limit >> 20);
    case LUA_ERRERR:
        return bay_error_set(err, BAY_EPLUGIN, NULL, "%s: an error while handling an error: %s", run->what,
                             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)");
    default:
        return bay_error_set(err, run->failed ? run->failed : BAY_EPLUGIN, NULL, "%s",
                             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(no message)");
    }
}

int lbay_run_protected(lua_State *L, lbay_run *run, lua_CFunction fn, void *ud, int nres, bay_error *err)
{
    int base = lua_gettop(L);
    if (!lua_checkstack(L, 3))
        return bay_error_set(err, BAY_ENOMEM, NULL, "%s: no room left on the Lua stack", run->what);
    run->stop = 0;
    run->failed = 0;
    run->recorded = false;
    run->stopped_at[0] = '\0';
    run->outer = current;
    current = run;
    lua_State *was = lbay_set_running(L);
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, ud);
    int status = lua_pcall(L, 1, nres, base + 1);
    current = run->outer;
    lbay_set_running(was);
    if (run->stop)
        lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
    if (status == LUA_OK && run->stop == 0) {
        lua_remove(L, base + 1);
        return 0;
    }
    int code = failure(L, run, status, err);
    lua_settop(L, base);
    if (status == LUA_ERRMEM)
        lua_gc(L, LUA_GCCOLLECT); /* give the memory the failed run left behind back before the next call */
    return code;
}
