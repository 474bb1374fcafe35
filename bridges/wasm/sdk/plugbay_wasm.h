/* bridges/wasm/sdk/plugbay_wasm.h — the plugbay API for plugins written in C and compiled to WebAssembly (clang --target=wasm32-wasi).
 *
 * A wasm plugin is a module, plugin.wasm, that exports its memory, the
 * allocator bay_alloc and one function per function name of its manifest;
 * arguments and results cross as msgpack in its memory (docs/wasm-plugins.md
 * has the ABI). This header and plugbay_wasm.c, compiled into the plugin, do
 * the msgpack and the plumbing:
 *
 *     #include "plugbay_wasm.h"
 *
 *     static int greet(bay_args *args, bay_out *result)
 *     {
 *         const char *name;
 *         uint32_t len;
 *         if (bay_arg_str(args, &name, &len))
 *             return BAY_ETYPE;
 *         bay_out_cstr(result, "hello");
 *         return 0;
 *     }
 *     BAY_WASM_EXPORT(greet)
 *
 * Build: clang-14 --target=wasm32-wasi -O2 -mexec-model=reactor
 *        -Wl,--stack-first -Wl,--strip-all -I<this folder> -I<plugbay>/include
 *        -o plugin.wasm plugin.c plugbay_wasm.c
 *
 * One call runs at a time. Strings a reader gives are not NUL-terminated:
 * print them with "%.*s". Only the error codes and log levels of
 * plugbay/error.h are for wasm plugins; its functions are the host's. */
#ifndef PLUGBAY_WASM_H
#define PLUGBAY_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

/* ---- reading msgpack: arguments, configuration, settings, results of bay_call, what the store holds ---- */

/* A reader over msgpack bytes. owned is the buffer bay_in_free frees (NULL
 * for a reader over someone else's bytes). */
typedef struct bay_in {
    const uint8_t *p, *end;
    uint8_t *owned;
} bay_in;

/* The kinds of value a reader meets next. */
typedef enum bay_mp_type {
    BAY_MP_NIL,
    BAY_MP_BOOL,
    BAY_MP_INT,
    BAY_MP_FLOAT,
    BAY_MP_STR,
    BAY_MP_BIN,
    BAY_MP_ARRAY,
    BAY_MP_MAP,
    BAY_MP_INVALID, /* the end, or bytes that are not msgpack */
} bay_mp_type;

/* bay_in_type tells the kind of the next value without reading it. */
bay_mp_type bay_in_type(const bay_in *in);

/* bay_mp_type_name returns "nil", "bool", "int", "float", "str", "bin", "array", "map" or "nothing". */
const char *bay_mp_type_name(bay_mp_type t);

/* Each bay_in_* reads the next value when it has that kind and returns true;
 * otherwise it reads nothing and returns false. bay_in_int takes integers
 * that fit in int64_t; bay_in_float takes floats and integers. Strings and
 * binaries stay in the reader's bytes. bay_in_array and bay_in_map read only
 * the header: the count items (for a map, key then value) follow. */
bool bay_in_nil(bay_in *in);
bool bay_in_bool(bay_in *in, bool *out);
bool bay_in_int(bay_in *in, int64_t *out);
bool bay_in_float(bay_in *in, double *out);
bool bay_in_str(bay_in *in, const char **s, uint32_t *len);
bool bay_in_bin(bay_in *in, const uint8_t **data, uint32_t *len);
bool bay_in_array(bay_in *in, uint32_t *count);
bool bay_in_map(bay_in *in, uint32_t *count);

/* bay_in_skip reads one whole value, whatever it holds. */
bool bay_in_skip(bay_in *in);

/* bay_in_find looks up key in the map the reader is on, without moving it;
 * on success *value reads the key's value. */
bool bay_in_find(const bay_in *map, const char *key, bay_in *value);

/* bay_in_free frees the bytes a reader owns (from bay_config, bay_settings, bay_call, bay_receive, bay_store_*,
 * bay_timer_list or bay_plugins_*). */
void bay_in_free(bay_in *in);

/* ---- writing msgpack: results, arguments of bay_call, what goes to the store ---- */

/* A writer into a buffer it grows; failed is set when memory ran out.
 * Start from {0}; free with bay_out_free. */
typedef struct bay_out {
    uint8_t *data;
    uint32_t len, cap;
    bool failed;
} bay_out;

void bay_out_nil(bay_out *o);
void bay_out_bool(bay_out *o, bool b);
void bay_out_int(bay_out *o, int64_t i);
void bay_out_float(bay_out *o, double d);
void bay_out_str(bay_out *o, const char *s, uint32_t len);
/* bay_out_cstr writes the NUL-terminated string s. */
void bay_out_cstr(bay_out *o, const char *s);
void bay_out_bin(bay_out *o, const void *data, uint32_t len);
/* bay_out_array and bay_out_map write a header: count items (for a map, key then value) must follow. */
void bay_out_array(bay_out *o, uint32_t count);
void bay_out_map(bay_out *o, uint32_t count);
/* bay_out_raw copies len bytes that already are msgpack (whole values, e.g. from a reader). */
void bay_out_raw(bay_out *o, const void *msgpack, uint32_t len);
void bay_out_free(bay_out *o);

/* ---- functions the manifest names ---- */

/* A call's arguments: count values, next is the index of the next one. */
typedef struct bay_args {
    bay_in in;
    uint32_t count, next;
} bay_args;

/* A plugin function: read args, write exactly one value to result (nothing
 * written means nil) and return 0, or return a bay_errno code, ideally after
 * bay_fail() said what went wrong. */
typedef int (*bay_wasm_fn)(bay_args *args, bay_out *result);

/* BAY_WASM_EXPORT(fn) exports fn under its own name, the name plugin.json's
 * "function" (or its default) gives. */
#define BAY_WASM_EXPORT(fn)                                                            \
    __attribute__((export_name(#fn))) int32_t bay_export_##fn(uint32_t args, uint32_t len) \
    {                                                                                  \
        return bay_wasm_serve(fn, args, len);                                          \
    }

/* bay_wasm_serve runs fn for the len bytes of arguments at args (which
 * bay_alloc gave plugbay and which it frees) and hands the result to plugbay.
 * BAY_WASM_EXPORT's functions call it. */
int32_t bay_wasm_serve(bay_wasm_fn fn, uint32_t args, uint32_t len);

/* bay_emit sends the one value written to chunk (nothing written: nil) as
 * the next piece of the running call's streamed answer, and empties chunk for
 * the next one (its buffer stays: bay_out_free it after the last). A caller
 * reading a stream gets each chunk as it is emitted, and the value the
 * function writes to result (unless nil) last; a caller that takes the answer
 * whole gets every chunk in one array, the result last (16 MiB at most). It
 * waits while the caller has not taken the chunks sent so far. Returns 0;
 * BAY_ECANCELED or BAY_ETIMEDOUT once the call must stop (the caller
 * abandoned or cancelled the stream, or its deadline passed, while the
 * module was in bay_emit; a stop while its own code runs ends the call with a
 * trap): return that code at once, calling nothing else of plugbay (which
 * would end the call with a trap). Other codes say why the chunk did not go, and the call holds
 * the message: returning the code fails the call with it, no bay_fail needed
 * (BAY_EINVAL: a chunk over 16 MiB, or chunks gathered past 16 MiB;
 * BAY_ENOMEM; BAY_ETYPE, a map key that is not a string, which fails the call
 * whatever it returns). BAY_ESTATE outside a call. */
int bay_emit(bay_out *chunk);

/* What bay_receive returns once the input ended: no code of plugbay/error.h. */
#define BAY_INPUT_END (-1)

/* bay_receive takes the next chunk of the input the running call's caller
 * streams (a host's bay_call_upload), waiting for it: 0 with *chunk reading
 * it (one value; free it with bay_in_free); BAY_INPUT_END once the input
 * ended (*chunk empty). Taking chunks lets the caller send more (it waits
 * while 64 are not taken). BAY_ECANCELED or BAY_ETIMEDOUT once the call must
 * stop: return that code at once, as after bay_emit. BAY_EINVAL when the
 * caller sends no input, the call holding the message (return the code);
 * BAY_ESTATE outside a call. */
int bay_receive(bay_in *chunk);

/* bay_arg_* read the next argument. On a missing or mistyped one they say so
 * with bay_fail ("argument 2 must be str, got int") and return BAY_ETYPE;
 * otherwise 0. bay_arg_value gives a reader over any value. */
int bay_arg_str(bay_args *a, const char **s, uint32_t *len);
int bay_arg_int(bay_args *a, int64_t *out);
int bay_arg_float(bay_args *a, double *out);
int bay_arg_bool(bay_args *a, bool *out);
int bay_arg_value(bay_args *a, bay_in *value);

/* ---- the plugbay API ---- */

/* bay_log sends a line at level (BAY_LOG_DEBUG .. BAY_LOG_ERROR) to the broker's log. */
void bay_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* bay_fail records why the running call fails (the caller receives it with
 * the plugin id) and returns code: `return bay_fail(BAY_EINVAL, "...");`. */
int bay_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* bay_config reads the plugin's configuration map (the manifest's "config")
 * into a reader that owns its bytes. Returns false when out of memory. */
bool bay_config(bay_in *config);

/* bay_settings reads the plugin's settings (the manifest's "settings": each
 * key to the value an admin set, or its default) into a reader that owns
 * its bytes; after a change, what it reads is new by the time on_settings
 * (below) runs. Returns false when out of memory. */
bool bay_settings(bay_in *settings);

/* bay_call calls extension point name through the broker, as a host does,
 * with args (an array written with bay_out, or NULL for none) and a timeout
 * (0: what is left of the running call's). On success returns 0 and *result
 * reads the value (free it with bay_in_free); on failure returns the code and
 * writes the message to why (when not NULL). */
int bay_call(const char *name, const bay_out *args, int timeout_ms, bay_in *result, char *why, size_t whylen);

/* ---- storage ----
 * A key-value store and SQL on one SQLite database of the plugin's own, kept
 * across restarts and updates, removed at uninstall (plugbay/plugin.h has
 * the rules). Each write is a transaction of its own, except in on_install
 * and on_update, whose writes are kept only when the hook returns 0. Each
 * function returns 0, or a code with its message in why (when not NULL):
 * BAY_EINVAL (a bad key, SQL or parameters; a value over 1 MiB), BAY_ENOSPC
 * (the quota is full), BAY_EPERM (SQL the store refuses: ATTACH, PRAGMA,
 * tables named bay_*), BAY_EIO. Free the readers they fill with bay_in_free. */

/* bay_store_get reads the value stored under key (1 to 256 bytes); BAY_ENOENT when nothing is stored there. */
int bay_store_get(const char *key, bay_in *value, char *why, size_t whylen);

/* bay_store_put stores the one value written to value (NULL or nothing
 * written: nil) under key, replacing what was there. */
int bay_store_put(const char *key, const bay_out *value, char *why, size_t whylen);

/* bay_store_delete removes key; 0 whether or not it was there. */
int bay_store_delete(const char *key, char *why, size_t whylen);

/* bay_store_keys reads an array of the keys that start with prefix (NULL or "" for all), in byte order. */
int bay_store_keys(const char *prefix, bay_in *keys, char *why, size_t whylen);

/* bay_store_sql runs one SQL statement with params bound to its parameters
 * (one array for ?/?NNN or one map for :name, written with bay_out; NULL for
 * none); *rows (when rows is not NULL) reads an array of one map of column
 * name to value per row (empty for a statement without rows). nil, int,
 * float, str and bin map to NULL, INTEGER, REAL, TEXT and BLOB; bool is
 * stored as 0/1. */
int bay_store_sql(const char *sql, const bay_out *params, bay_in *rows, char *why, size_t whylen);

/* ---- timers at run time ----
 * Besides the manifest's "timers", a plugin sets its own while it runs:
 * plugbay calls the export function every interval_ms (never two ticks of
 * one timer at once, at most 64 timers a plugin). A timer's function is any
 * export of a bay_wasm_fn (BAY_WASM_EXPORT), plugin.json need not name it;
 * it is called with no arguments. Timers last while the worker runs: a
 * constructor (__attribute__((constructor)), run by _initialize at load)
 * sets them again each time; those it sets are set once the load ended. Each
 * function returns 0, or a code with its message in why (when not NULL). */

/* bay_timer_set sets timer name (1 to 128 of A-Z a-z 0-9 _ . : -) to call
 * export function every interval_ms (1 to 86400000, one day), its first
 * tick one interval from now; a timer of that name (the manifest's too)
 * moves to the new interval and function. BAY_EINVAL (a bad name or
 * interval, no such export), BAY_EBUSY (64 timers already). */
int bay_timer_set(const char *name, int32_t interval_ms, const char *function, char *why, size_t whylen);

/* bay_timer_remove stops timer name (a tick running ends as it would); BAY_ENOENT when there is none. */
int bay_timer_remove(const char *name, char *why, size_t whylen);

/* bay_timer_list reads an array of the plugin's timers, each a map {name,
 * interval_ms, function, next_in_ms, running, set_at_run_time}. */
int bay_timer_list(bay_in *timers, char *why, size_t whylen);

/* ---- managing plugins ----
 * With permission plugins.manage (every plugin) or plugins.manage:PATTERN
 * (one id, or a prefix ending in '*') in plugin.json, a plugin lists,
 * loads, unloads and reloads others; it may always unload or reload
 * itself. Each answers at once, the load or drain going on after (a plugin
 * unloading itself gets its answer, then stops). BAY_EPERM when not
 * granted, BAY_ENOENT for an unknown plugin, BAY_EBUSY when others depend
 * on it. */

/* bay_plugins_list reads an array of {id, version, state, reason}: the plugin itself and each one it may manage. */
int bay_plugins_list(bay_in *plugins, char *why, size_t whylen);

/* bay_plugins_manage runs what ("load", "unload" or "reload"; else
 * BAY_EINVAL) on plugin id; *plugin (when plugin is not NULL) reads its
 * {id, version, state, reason} as the command left it. */
int bay_plugins_manage(const char *what, const char *id, bay_in *plugin, char *why, size_t whylen);

/* ---- hooks ----
 * Optional functions plugbay runs when the module exports them, each a
 * bay_wasm_fn exported with BAY_WASM_EXPORT under its name (the result is
 * ignored; a failure, after bay_fail, says why):
 *   on_install()             the first load after the install, after
 *                            _initialize; failing stops the install.
 *   on_update(from_version)  the first load of a new version, to migrate
 *                            the store; failing stops the update (the
 *                            version before serves on, its store as it was).
 *   on_uninstall()           before an uninstall unloads it; a failure is logged.
 *   on_settings(settings, changed)  the settings map and the array of the
 *                            keys that changed; a failure is logged.
 * What on_install and on_update write to the store is kept only when they
 * return 0. */

#endif
