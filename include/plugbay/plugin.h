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
