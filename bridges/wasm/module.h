/* bridges/wasm/module.h — reads a WebAssembly module's types, imports, exports, memory and tables, and checks them against plugbay's wasm plugin ABI. */
#ifndef BAY_WASM_MODULE_H
#define BAY_WASM_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

/* The largest initial table a module may declare (entries): the runtime
 * allocates it at once, for every fresh instance. */
#define BAY_WASM_TABLE_MAX (1u << 20)

/* What the worker needs to know about a module that passed bay__wasm_check. */
typedef struct bay__wasm_shape {
    uint32_t min_pages;   /* the memory's initial size in 64 KiB pages */
    uint32_t max_pages;   /* its declared maximum, or UINT32_MAX when it declares none */
    bool imports_plugbay; /* it imports at least one plugbay.* function */
    bool imports_wasi;    /* it imports at least one wasi_snapshot_preview1.* function */
    bool has_initialize;  /* it exports _initialize (a WASI reactor's constructors) */
    unsigned hooks;       /* bit i: it exports hook bay__wasm_hooks[i] */
} bay__wasm_shape;

/* The hooks (plugin.h) plugbay calls when a module exports them, each as a
 * function (i32 args, i32 args_len) -> i32; NULL-terminated. */
extern const char *const bay__wasm_hooks[];

/* bay__wasm_check reads the len bytes of a WebAssembly binary module and checks
 * that it fits the plugin ABI (docs/wasm-plugins.md): every import is one of
 * the plugbay.* or wasi_snapshot_preview1.* functions with its exact type; it defines one memory and
 * exports it as "memory"; it exports bay_alloc (i32) -> i32, _initialize
 * () -> nil if anything by that name, every name of functions
 * (NULL-terminated) as a function (i32, i32) -> i32, and each hook of
 * bay__wasm_hooks it exports likewise; its tables start below
 * BAY_WASM_TABLE_MAX entries. Function bodies are not looked at: wasm2c
 * validates them when it translates the module.
 * Returns 0 and fills *shape, or BAY_EPLUGIN with err saying what is wrong
 * (and, for a malformed module, at which byte). */
int bay__wasm_check(const uint8_t *wasm, size_t len, const char *const *functions, bay__wasm_shape *shape,
                   bay_error *err);

/* bay__wasm_entries returns in *names the names of the len bytes of module's
 * exports of type (i32 args, i32 args_len) -> i32, each one a function a call
 * or a timer may run: a NULL-terminated array in one block, freed with free().
 * Returns 0, or BAY_EPLUGIN (a malformed module) or BAY_ENOMEM with err saying why. */
int bay__wasm_entries(const uint8_t *wasm, size_t len, char ***names, bay_error *err);

/* bay__wasm_mangle writes the C symbol wasm2c gives export name in a module
 * translated with "-n module" ("greet" -> "Z_moduleZ_greet", "Zed" ->
 * "Z_moduleZ_Z5Aed") into out. Returns false when it does not fit. */
bool bay__wasm_mangle(const char *name, char *out, size_t size);

#endif
