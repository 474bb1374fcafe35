/* bridges/wasm/cache.h — the compile cache: modules translated by wasm2c and compiled by cc into shared objects, kept by SHA-256 under the state folder. */
#ifndef BAY_WASM_CACHE_H
#define BAY_WASM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

#include "module.h"

/* How deep wasm calls may nest before the module traps with "call stack exhausted". */
#define BAY_WASM_STACK_DEPTH 500

/* bay__wasm_cache_dir writes the cache folder into out, creating it: STATE/cache/wasm,
 * found by walking up from the plugin's data folder STATE/data/ID (or, if
 * data_dir does not have that shape, DATA_DIR/.wasm-cache). Returns 0, or
 * BAY_EIO with err naming the folder and the system's reason. */
int bay__wasm_cache_dir(const char *data_dir, const char *id, char *out, size_t size, bay_error *err);

/* bay__wasm_compiled finds in cache_dir the shared object built from the len
 * bytes of wasm, or builds it there: wasm2c translates the bytes (validating
 * them), cc compiles the C into a shared object, which is renamed into place
 * atomically. Its name is the SHA-256 of the bytes plus a digest of the
 * recipe (wabt's version and the compiler flags). shape says which
 * modules of imports the module has (bay__wasm_check). name is
 * how messages call the module ("plugin.wasm"). Writes the object's path to
 * so and whether it was built now to *built. Returns 0, BAY_EPLUGIN when
 * wasm2c refuses the module (err quotes it), or BAY_EIO when a tool is missing
 * or fails (err names it and says what to do). */
int bay__wasm_compiled(const char *cache_dir, const uint8_t *wasm, size_t len, const bay__wasm_shape *shape,
                      const char *name, char *so, size_t so_size, bool *built, bay_error *err);

#endif
