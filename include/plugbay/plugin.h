/* plugbay/plugin.h — the API a native C plugin is written against.
 *
 * A plugin is a shared object named by the manifest's "entry". It defines one
 * descriptor with BAY_PLUGIN(...); each extension point the manifest provides
 * names one of the descriptor's functions ("function", default: the extension
 * point's name with '.' and '-' turned into '_').
 *
 * A plugin includes this header, not plugbay.h (the host API). (Until the
 * deprecated type name bay_call below goes, both headers define bay_call:
 * define BAY_NO_DEPRECATED before including them to have both.)
 *
 * The plugin runs alone in its worker process; one call runs at a time, on the
 * worker's main thread: call the functions below only from that thread (not
 * from threads the plugin starts itself). Plugin
 * functions may call other extension points through the broker with
 * bay_plugin_call(), including ones provided by the host or other plugins. */
#ifndef PLUGBAY_PLUGIN_H
#define PLUGBAY_PLUGIN_H

#include <plugbay/error.h>
#include <plugbay/value.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version of this header; the worker refuses a plugin built against another. */
#define BAY_PLUGIN_ABI 1

/* One running call of a plugin function, valid only until the function returns. */
typedef struct bay_invocation bay_invocation;

#ifndef BAY_NO_DEPRECATED
/* bay_call is bay_invocation's old name, kept for one release so that
 * existing plugins still build (with a warning); it named the host API's
 * function bay_call() too. */
typedef bay_invocation bay_call __attribute__((deprecated("bay_call is now bay_invocation")));
#endif

/* A plugin function. args is the call's argument array (borrowed). On success
 * store a new value in *result (ownership passes to the worker; leaving it NULL
 * means nil) and return 0. On failure return a bay_errno code, ideally after
 * bay_call_error() said what went wrong. */
typedef int (*bay_plugin_fn)(bay_invocation *call, const bay_value *args, bay_value **result);

typedef struct bay_export {
    const char *name; /* function name the manifest refers to */
    bay_plugin_fn fn;
} bay_export;

typedef struct bay_plugin_def {
    int abi;                   /* BAY_PLUGIN_ABI */
    int (*on_load)(void);      /* NULL or: runs once before any call; non-zero fails the load */
    void (*on_unload)(void);   /* NULL or: runs once after the last call */
    const bay_export *exports; /* terminated by {NULL, NULL} */
} bay_plugin_def;

/* BAY_PLUGIN(on_load, on_unload, {"name", fn}, ...) defines the descriptor. */
#define BAY_PLUGIN(load, unload, ...)                                                  \
    static const bay_export bay_plugin_exports_[] = {__VA_ARGS__, {0, 0}};             \
    __attribute__((visibility("default"))) const bay_plugin_def bay_plugin = {         \
        BAY_PLUGIN_ABI, load, unload, bay_plugin_exports_}

/* bay_call_error records why the call failed: a printf-style message that the
 * caller receives together with the plugin id. Returns code, so a function can
 * end with `return bay_call_error(call, BAY_EINVAL, "...", ...);`. */
int bay_call_error(bay_invocation *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* bay_call_name returns the extension point this call is for. Borrowed. */
const char *bay_call_name(const bay_invocation *call);

/* bay_call_context returns the call's context, or NULL when it has none. Borrowed. */
const char *bay_call_context(const bay_invocation *call);

/* bay_call_cancelled returns 0 while the call may run on, and once it must
 * stop, why: BAY_ETIMEDOUT when its deadline passed, BAY_ECANCELED when its
 * caller cancelled it (or went away). A long-running function should check it
 * and return BAY_ECANCELED (the caller gets BAY_ETIMEDOUT when the deadline
 * was why). */
int bay_call_cancelled(const bay_invocation *call);

/* bay_call_remaining_ms returns the milliseconds left before the call's deadline (0 when past). */
int bay_call_remaining_ms(const bay_invocation *call);

/* bay_call_emit sends chunk (borrowed) as the next piece of the call's
 * streamed answer. A caller reading a stream (bay_call_stream, the bindings'
 * iterators) gets each chunk as it is emitted; the value the function then
 * returns, unless nil, is the stream's last chunk. A caller that takes the
 * answer whole gets every chunk in one array instead (the returned value,
 * unless nil, last), 16 MiB at most. Back-pressure: while the caller has not
 * taken the chunks sent so far, it waits. Returns 0; BAY_ECANCELED or
 * BAY_ETIMEDOUT once the call must stop (the caller abandoned the stream,
 * cancelled it, or its deadline passed: return that code); BAY_EINVAL for a
 * chunk over one frame, or gathered chunks over 16 MiB; BAY_ETYPE for one
 * nested too deep. Only on the call's thread, within the call. */
int bay_call_emit(bay_invocation *call, const bay_value *chunk);

/* bay_call_receive takes the next chunk of the input the call's caller
 * streams to it (bay_call_upload in a host), waiting for it: 0 with *chunk a
 * new value the plugin frees; 0 with *chunk NULL once the input ended;
 * BAY_ECANCELED or BAY_ETIMEDOUT once the call must stop (return that code);
 * BAY_EINVAL when the caller sends no input. Taking chunks gives the caller
 * credit for more (back-pressure: it waits while 64 are not taken). Only on
 * the call's thread, within the call. */
int bay_call_receive(bay_invocation *call, bay_value **chunk);

/* bay_arg_int / _float / _str / _bool fetch argument index of args and check
 * its type. On a missing or mistyped argument they record an error naming the
 * extension point, the argument and the types (bay_call_error) and return
 * BAY_ETYPE; otherwise 0. A string stays owned by args. */
int bay_arg_int(bay_invocation *call, const bay_value *args, size_t index, int64_t *out);
int bay_arg_float(bay_invocation *call, const bay_value *args, size_t index, double *out);
int bay_arg_str(bay_invocation *call, const bay_value *args, size_t index, const char **out);
int bay_arg_bool(bay_invocation *call, const bay_value *args, size_t index, bool *out);

/* bay_plugin_log sends a line at level (BAY_LOG_DEBUG .. BAY_LOG_ERROR, error.h)
 * to the broker's log, tagged with the plugin id: 1,000 lines per 10 s at
 * most (output on stdout/stderr included); the rest are counted and dropped. */
void bay_plugin_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* bay_plugin_id returns the plugin's id ("example/hello"). Borrowed. */
const char *bay_plugin_id(void);

/* bay_plugin_config returns the plugin's configuration map (the manifest's
 * "config" defaults); never NULL while loaded. Borrowed. */
const bay_value *bay_plugin_config(void);

/* bay_plugin_data_dir returns the plugin's private data folder (absolute path). Borrowed. */
const char *bay_plugin_data_dir(void);

/* Settings: the values of the manifest's "settings" an admin may change
 * (`plugbay config ID KEY=VALUE`, the "config" command), each one set or its
 * default. When they change while the plugin runs, its optional function
 * on_settings (below) is called; what these return is new from then on. */

/* bay_plugin_settings returns the map of every declared setting to its
 * value; never NULL while loaded (empty without settings). Borrowed, valid
 * until the settings change (after on_settings returns). */
const bay_value *bay_plugin_settings(void);

/* bay_plugin_setting returns the value of setting key, or NULL when the
 * manifest declares no such setting. Borrowed, as bay_plugin_settings. */
const bay_value *bay_plugin_setting(const char *key);

/* Storage: a key-value store and SQL on one SQLite database per plugin, in
 * its data folder, with no file permission needed; kept across restarts and
 * updates, removed at uninstall; at most limits.storage_mb (default 64 MiB).
 * Each write is a transaction (committed when the function returns 0). Errors:
 * BAY_EINVAL (bad key, SQL or parameters; a value over 1 MiB), BAY_ENOSPC (the
 * quota is full), BAY_EPERM (SQL the store refuses: ATTACH, PRAGMA, ...),
 * BAY_EIO; err (when not NULL) says what. */

/* bay_store_get fetches the value stored under key (1 to 256 bytes) into a
 * new *out the plugin frees; BAY_ENOENT when nothing is stored there. */
int bay_store_get(const char *key, bay_value **out, bay_error *err);

/* bay_store_put stores a copy of value (any bay_value; borrowed) under key,
 * replacing what was there. */
int bay_store_put(const char *key, const bay_value *value, bay_error *err);

/* bay_store_delete removes key; 0 whether or not it was there. */
int bay_store_delete(const char *key, bay_error *err);

/* bay_store_keys returns in a new *out an array of the keys that start with
 * prefix (NULL or "" for all), in byte order. */
int bay_store_keys(const char *prefix, bay_value **out, bay_error *err);

/* bay_store_sql runs one SQL statement on the plugin's database with params
 * bound to its parameters (an array for ?/?NNN, a map for :name; borrowed;
 * NULL for none). On success *out (when not NULL) is a new array with one
 * map of column name to value per row (empty for a statement without rows).
 * Values map both ways: nil/NULL, int/INTEGER, float/REAL, str/TEXT,
 * bin/BLOB; bool is stored as 0/1. Tables whose names start with "bay_" are
 * the store's own and refused. */
int bay_store_sql(const char *sql, const bay_value *params, bay_value **out, bay_error *err);

/* Timers at run time: besides its manifest's "timers", a plugin sets its
 * own while it runs (plugbayd calls function every interval_ms, never two
 * ticks of one timer at once, at most 64 timers a plugin). They last while
 * its worker runs: set them again in on_load. During on_load a timer is
 * checked here and set once the load ended (a refusal then is logged). */

/* bay_timer_set sets timer name (1 to 128 of A-Z a-z 0-9 _ . : -) to call
 * the plugin's function every interval_ms (1 to 86400000), its first tick
 * one interval from now; a timer of that name (the manifest's too) moves to
 * the new interval and function. BAY_EINVAL (a bad name or interval, a
 * function the plugin does not have), BAY_EBUSY (64 timers already). */
int bay_timer_set(const char *name, int64_t interval_ms, const char *function, bay_error *err);

/* bay_timer_remove stops timer name (a tick running ends as it would); BAY_ENOENT when there is none. */
int bay_timer_remove(const char *name, bay_error *err);

/* bay_timer_list returns in a new *out an array of the plugin's timers:
 * {name, interval_ms, function, next_in_ms, running, set_at_run_time}. */
int bay_timer_list(bay_value **out, bay_error *err);

/* Managing plugins: with permission plugins.manage (every plugin) or
 * plugins.manage:PATTERN (one id, or a prefix ending in '*', as call:
 * patterns), a plugin lists, loads, unloads and reloads others; it may
 * always unload or reload itself. Each answers at
 * once with the plugin's {id, version, state, reason}, the load or drain
 * going on after (so a plugin unloading itself is not waiting on itself).
 * BAY_EPERM when not granted, BAY_ENOENT for an unknown plugin, and the
 * lifecycle's own refusals (BAY_EBUSY: others depend on it, ...). */

/* bay_plugins_list returns in a new *out an array of {id, version, state,
 * reason} of itself and each plugin it may manage. */
int bay_plugins_list(bay_value **out, bay_error *err);

/* bay_plugins_manage runs what ("load", "unload" or "reload") on plugin id;
 * *out (when not NULL) gets a new {id, version, state, reason}. */
int bay_plugins_manage(const char *what, const char *id, bay_value **out, bay_error *err);

/* Hooks: optional functions of the plugin that the worker calls, when the
 * plugin defines them, with the signature of bay_plugin_fn (in C, listed in
 * BAY_PLUGIN by these names; in other languages, functions by these names).
 * A hook that fails (non-zero, after bay_call_error) says why:
 *   on_install()             the first load after the plugin was installed,
 *                            after on_load; failing stops the install.
 *   on_update(from_version)  the first load of a version after another ran,
 *                            after on_load, to migrate the plugin's data;
 *                            failing stops the update (the version before
 *                            serves on, its store as it was).
 *   on_uninstall()           before on_unload when the plugin is uninstalled
 *                            while loaded; a failure is logged.
 *   on_settings(settings, changed)  the settings map and the array of the
 *                            keys that changed; a failure is logged.
 * on_install and on_update run in one storage transaction each: what they
 * wrote is kept only when they return 0. Each is bounded in time (the load
 * limit, or 10 s for the others) and may check bay_call_cancelled(). */

/* bay_plugin_call calls extension point name through the broker, exactly as a
 * host would; the same rules of kind, context and deadline apply. args is
 * borrowed (NULL = no arguments). timeout_ms 0 uses the remaining time of the
 * current call (or 5 s outside a call). On success *result is a new value the
 * plugin frees; on failure err (when not NULL) says which plugin failed and why. */
int bay_plugin_call(const char *name, const bay_value *args, int timeout_ms, bay_value **result,
                    bay_error *err);

#ifdef __cplusplus
}
#endif
#endif
