/* bridges/common/worker.h — the shared worker library as a language bridge sees it.
 *
 * A worker executable is one bridge (a table of three functions that load a
 * plugin, run one of its functions and unload it) handed to bay__worker_main(),
 * which does everything else: the connection to plugbayd, the handshake,
 * heartbeats, cancellation, deadlines and the dispatch loop. Bridges expose
 * the plugin API of plugbay/plugin.h (bay_plugin_log, bay_plugin_call,
 * bay_call_error, ...) to their language by calling those same functions.
 *
 * Threads: every bridge function runs on the worker's main thread, one at a
 * time; a call may be re-entered while its plugin waits in bay_plugin_call(). */
#ifndef BAY_WORKER_H
#define BAY_WORKER_H

#include <plugbay/plugin.h>

/* What COMMAND load says about the plugin. Every string and config stay valid
 * until the worker exits. */
typedef struct bay__plugin_info {
    const char *id;       /* plugin id ("example/hello") */
    const char *dir;      /* absolute plugin folder */
    const char *entry;    /* the manifest's entry, relative to dir ("plugin.so", "main.lua") */
    const char *data_dir; /* the plugin's private data folder */
    const bay_value *config; /* configuration map; never NULL */
    const bay_value *manifest; /* the plugin's manifest (a map) as plugbayd read and validated it; never NULL */
    const bay_value *permissions; /* array of the permission strings granted at install
                                   * ("fs.read:/srv/x", "lua.io", ...); never NULL */
} bay__plugin_info;

/* bay__plugin_limit returns field key of the manifest's "limits" (such as
 * "lua_memory_mb"), which plugbayd validated, or dflt when it sets none. */
int64_t bay__plugin_limit(const bay__plugin_info *p, const char *key, int64_t dflt);

typedef struct bay__bridge {
    const char *language; /* "c", "lua", "python", "wasm": used in log lines */

    /* load loads the plugin described by p and runs its on_load. functions
     * lists, NULL-terminated and without repeats, every function name the
     * manifest refers to (the array lives only during load, the strings until
     * exit); a missing one fails the load. Returns 0, or a bay_errno code with
     * err saying what is wrong and in which file. */
    int (*load)(const bay__plugin_info *p, const char *const *functions, bay_error *err);

    /* call runs function (one of those given to load) for call with args (an
     * array, borrowed). Same contract as bay_plugin_fn: 0 with a new value in
     * *result (NULL means nil), or a code, ideally after bay_call_error(). */
    int (*call)(const char *function, bay_invocation *call, const bay_value *args, bay_value **result);

    /* unload runs the plugin's on_unload and releases it. Called only after a
     * successful load. */
    void (*unload)(void);

    /* has tells whether the loaded plugin defines function (one of its
     * optional hooks: "on_install", "on_update", "on_uninstall",
     * "on_settings", plugin.h); call may then be given that function too. */
    bool (*has)(const char *function);

    /* interrupt, when not NULL, runs on the worker's I/O thread right after a
     * call in hand was cancelled (by its caller, or by the broker at the call's
     * deadline). A bridge whose plugin code cannot poll bay_call_cancelled()
     * uses it to stop that code (an asynchronous exception, a signal to the
     * main thread); the call then ends with bay_call_cancelled() true. It must
     * be safe to run while the main thread is inside bridge->call. */
    void (*interrupt)(void);

    /* prepare, when not NULL, runs once in the language's zygote (zygote.h)
     * before it forks any worker: what it makes ready, every worker forked
     * from the zygote starts with. It runs no plugin code and starts no
     * thread. forked, when not NULL, then runs first in each of those workers. */
    void (*prepare)(void);
    void (*forked)(void);
} bay__bridge;

/* bay__worker_main runs the whole worker for bridge: it reads PLUGBAY_URL,
 * PLUGBAY_TOKEN, PLUGBAY_PLUGIN and PLUGBAY_BROKER_PID, connects, serves
 * COMMAND and CALL frames until COMMAND unload, and returns the process exit
 * code (0 after an unload). It exits on its own when the broker goes away. */
int bay__worker_main(const bay__bridge *bridge);

#endif
