/* bridges/wasm/runtime.h — the plugin's compiled module and its one instance: fresh instances, calls whose traps become errors, and the interrupt that stops them. */
#ifndef BAY_WASM_RUNTIME_H
#define BAY_WASM_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include <wasm-rt.h>

#include "module.h"
#include "worker.h"

/* What the worker knows about one call running in the module. Calls nest when
 * the module waits in plugbay.call and the broker hands the worker another. */
typedef struct bay__wasm_frame {
    bay_invocation *call;
    const char *function;       /* the export serving it */
    bay_value *result;          /* set by plugbay.result; NULL = nil */
    int code;                   /* fails the call whatever the export returns (a bad plugbay.result); 0 = none */
    char message[400];          /* what plugbay.error said, or the worker about code */
    char note[300];             /* more about a trap or failure (a refused memory.grow, a bad pointer) */
    unsigned generation;        /* the instance's generation when the call started */
    struct bay__wasm_frame *outer;
} bay__wasm_frame;

/* The host side of the instance. wasm2c passes a pointer to it, under this
 * name, to every plugbay.* import (imports.c), and under the name of
 * struct Z_wasi_snapshot_preview1_instance_t to every WASI import (wasi.c). */
struct Z_plugbay_instance_t {
    wasm_rt_memory_t *memory; /* the instance's linear memory */
    bay__wasm_frame *frame;    /* the innermost call running in the module, or NULL */
    void *config;             /* the plugin's configuration as msgpack */
    size_t config_len;
    void *settings;           /* its settings as msgpack, when plugbay.settings last packed them */
    size_t settings_len;
    void *reply;              /* the latest plugbay.call's answer (msgpack, or an error message) */
    size_t reply_len;
};
typedef struct Z_plugbay_instance_t bay__wasm_host;

/* The module's memory cap: how many 64 KiB pages, and where that number comes from. */
typedef struct bay__wasm_cap {
    uint32_t pages;
    const char *source; /* e.g. "limits.wasm_memory_pages in plugin.json" */
} bay__wasm_cap;

/* bay__wasm_map loads the shared object so compiled from plugin id's module
 * (id is borrowed for the worker's life). It may run before the worker
 * enters its sandbox, which would not let it read the cache. Returns 0, or
 * BAY_EIO with err saying why. */
int bay__wasm_map(const char *id, const char *so, bay_error *err);

/* bay__wasm_start finds in the mapped module its runtime entry points and
 * the exports named in exports (bay__wasm_entries'; taken, even on failure),
 * of a module whose shape bay__wasm_check found,
 * keeps config (borrowed, packed now) for plugbay.config, and makes the first
 * instance, running its start code and _initialize. Returns 0, or a code
 * with err naming the plugin and what went wrong. */
int bay__wasm_start(const bay__wasm_shape *shape, char **exports, bay__wasm_cap cap, const bay_value *config,
                   bay_error *err);

/* bay__wasm_run runs export function (one bay__wasm_has knows) for call
 * with args packed as msgpack (the bridge's call).
 * A trap ends the call with BAY_EPLUGIN ("plugin ID: trap: ...") and the
 * instance is replaced by a fresh one; an interrupt ends it with
 * BAY_ETIMEDOUT or BAY_ECANCELED, likewise. */
int bay__wasm_run(const char *function, bay_invocation *call, const bay_value *args, bay_value **result);

/* bay__wasm_has tells whether the module serves function: any export of
 * type (i32 args, i32 args_len) -> i32, so the manifest's functions, the
 * hooks it exports and those its timers run (the bridge's has). */
bool bay__wasm_has(const char *function);

/* bay__wasm_interrupt stops wasm code running for a call that was just
 * cancelled (the bridge's interrupt, on the I/O thread): it signals the main
 * thread, whose handler traps out of the module when the innermost call is
 * the cancelled one and is in wasm code rather than in the worker. */
void bay__wasm_interrupt(void);

/* bay__wasm_close frees the instance and unloads the module (whatever of them there is). */
void bay__wasm_close(void);

/* For imports.c. */

/* bay__wasm_bytes returns where len bytes at ptr of the module's memory are,
 * or traps (out of bounds) with a note saying that what lies outside it. */
uint8_t *bay__wasm_bytes(bay__wasm_host *h, uint32_t ptr, uint32_t len, const char *what);

/* bay__wasm_wasi_open opens the plugin's data folder (borrowed) and the
 * folders its fs.read grants name (permissions: the array of grants) as
 * the folders WASI's file functions reach (wasi.c). Returns 0, or BAY_EIO
 * with err saying why. */
int bay__wasm_wasi_open(const char *data_dir, const bay_value *permissions, bay_error *err);

/* bay__wasm_on_renew has renewed (NULL: nothing) run each time the instance is replaced by a fresh one. */
void bay__wasm_on_renew(void (*renewed)(void));

/* bay__wasm_wasi_reset closes the files a module opened: its instance is replaced. */
void bay__wasm_wasi_reset(void);

/* bay__wasm_wasi_close closes the files and the data folder. */
void bay__wasm_wasi_close(void);

/* bay__wasm_exit ends the call running in the module, as WASI's proc_exit
 * with code asks: like a trap, with a fresh instance afterwards, since the
 * module's own stack was left where it was. */
_Noreturn void bay__wasm_exit(uint32_t code);

/* bay__wasm_host_enter marks that the worker's own code runs (an interrupt
 * then waits for bay__wasm_host_leave). */
void bay__wasm_host_enter(void);

/* bay__wasm_host_leave marks the return to wasm code, first trapping when the
 * call was cancelled meanwhile or a nested call replaced the instance. An
 * import that answers the module that its call must stop (plugbay.emit's
 * BAY_ECANCELED) returns without it, for the module to return that code. */
void bay__wasm_host_leave(void);

#endif
