/* bridges/wasm/main.c — plugbay-worker-wasm: the bridge that runs WebAssembly plugins, checked, translated by wasm2c and compiled to native code.
 *
 * The worker's OS sandbox (bridges/common/sandbox.c) lets it neither run
 * wasm2c and cc nor read the compile cache, so when plugbayd asks for a
 * sandbox, main() prepares the module first: it reads the .wasm file
 * plugbayd names in PLUGBAY_ENTRY (the manifest's entry), checks it, finds or
 * builds its compiled form and maps it;
 * COMMAND load then only checks the manifest's functions and starts the
 * instance. Without a sandbox (plugbayd --no-sandbox) load does it all.
 * plugbayd compiles a module before the worker starts, when it installs,
 * updates or first loads the plugin (--compile): the worker then finds it in
 * the cache. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "clock.h"
#include "module.h"
#include "runtime.h"
#include "sandbox.h"
#include "worker.h"
#include "zygote.h"

/* The memory cap of a plugin whose manifest sets none, in 64 KiB pages (16 MiB). */
#define DEFAULT_PAGES 256

/* The largest module the worker reads. */
#define MODULE_MAX (64u << 20)

/* The manifest's "limits" field of the memory cap (plugbayd checks its
 * range, at most 32768 pages, 2 GiB: the runtime computes sizes in 32 bits). */
#define CAP_KEY "wasm_memory_pages"

/* The plugin's module, read and mapped (by main() or by load). */
static struct {
    bool prepared;         /* main() prepared it before the sandbox: err or the rest is set */
    bay_error err;         /* why preparing failed (code 0: it did not) */
    char path[PATH_MAX];   /* DIR/ENTRY */
    uint8_t *wasm;         /* its bytes, until load checked them */
    size_t len;
    bay__wasm_shape shape;
} module;

/* read_module reads module.path into module.wasm. */
static int read_module(const char *id, bay_error *err)
{
    FILE *f = fopen(module.path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        int e = errno;
        if (f)
            fclose(f);
        return bay_error_set(err, BAY_EIO, id, "cannot read %s: %s", module.path, strerror(e));
    }
    if (st.st_size > MODULE_MAX) {
        fclose(f);
        return bay_error_set(err, BAY_EPLUGIN, id, "%s is %lld bytes; a wasm plugin may have at most %u", module.path,
                             (long long)st.st_size, MODULE_MAX);
    }
    module.len = (size_t)st.st_size;
    module.wasm = malloc(module.len ? module.len : 1);
    bool ok = module.wasm && fread(module.wasm, 1, module.len, f) == module.len;
    fclose(f);
    return ok ? 0 : bay_error_set(err, BAY_EIO, id, "cannot read %s: %s", module.path, strerror(errno));
}

/* compile_module reads DIR/ENTRY, checks what does not depend on the
 * manifest (imports, memory, allocator) and finds or builds its compiled
 * form in the cache next to data_dir, whose path it writes to so. */
static int compile_module(const char *id, const char *dir, const char *entry, const char *data_dir, char *so,
                          size_t so_size, bay_error *err)
{
    static const char *const none[] = {NULL};
    char cache[PATH_MAX];
    bay_error e;
    if (snprintf(module.path, sizeof module.path, "%s/%s", dir, entry) >= (int)sizeof module.path)
        return bay_error_set(err, BAY_EINVAL, id, "plugin path %s/%s is too long", dir, entry);
    int rc = read_module(id, err);
    if (rc)
        return rc;
    /* plugbayd names the cache of a worker with a uid of its own (--plugin-uids); else it is the state folder's. */
    const char *given = getenv("PLUGBAY_WASM_CACHE");
    if (given)
        snprintf(cache, sizeof cache, "%s", given);
    if ((rc = bay__wasm_check(module.wasm, module.len, none, &module.shape, &e)) ||
        (!given && (rc = bay__wasm_cache_dir(data_dir, id, cache, sizeof cache, &e))))
        return bay_error_set(err, rc, id, "%s: %s", module.path, e.message);
    bool built;
    int64_t t0 = bay__now_ms();
    rc = bay__wasm_compiled(cache, module.wasm, module.len, &module.shape, entry, so, so_size, &built, &e);
    if (rc)
        return bay_error_set(err, rc, id, "%s: %s", module.path, e.message);
    if (built)
        fprintf(stderr, "plugbay-worker-wasm: %s: translated by wasm2c and compiled in %lld ms into %s\n",
                module.path, (long long)(bay__now_ms() - t0), so);
    return 0;
}

/* map_module compiles DIR/ENTRY (compile_module) and maps its compiled form. */
static int map_module(const char *id, const char *dir, const char *entry, const char *data_dir, bay_error *err)
{
    char so[PATH_MAX];
    int rc = compile_module(id, dir, entry, data_dir, so, sizeof so, err);
    return rc ? rc : bay__wasm_map(id, so, err);
}

/* compile_only is plugbay-worker-wasm --compile ID DIR ENTRY DATA_DIR, which
 * plugbayd runs when it installs or updates a plugin (broker/precompile.c):
 * the module compiled into the cache, and nothing run. Exits 0, or with the
 * code (a BAY_E* code) and the reason on stdout. */
static int compile_only(int argc, char **argv)
{
    char so[PATH_MAX];
    bay_error err;
    if (argc != 6) {
        fprintf(stdout, "usage: plugbay-worker-wasm --compile ID DIR ENTRY DATA_DIR\n");
        return BAY_EINVAL;
    }
    int rc = compile_module(argv[2], argv[3], argv[4], argv[5], so, sizeof so, &err);
    free(module.wasm);
    if (rc)
        fprintf(stdout, "%s\n", err.message);
    return rc;
}

/* prepare_early maps the module before the sandbox goes on, when plugbayd
 * asked for one (its environment then names the plugin, its entry and the
 * plugin and data folders),
 * and keeps any failure for COMMAND load to report. */
static void prepare_early(void)
{
    bay__sandbox box;
    const char *id = getenv("PLUGBAY_PLUGIN"), *entry = getenv("PLUGBAY_ENTRY");
    if (!bay__sandbox_from_env(&box) || !box.plugin_dir || !box.data_dir || !id)
        return;
    module.prepared = true;
    if (entry == NULL || *entry == '\0')
        bay_error_set(&module.err, BAY_EPROTO, id, "plugbayd named no entry (PLUGBAY_ENTRY) for the plugin's .wasm file");
    else
        map_module(id, box.plugin_dir, entry, box.data_dir, &module.err);
}

/* memory_cap reads the plugin's memory cap from its manifest. */
static bay__wasm_cap memory_cap(const bay__plugin_info *p)
{
    int64_t pages = bay__plugin_limit(p, CAP_KEY, 0);
    if (pages == 0)
        return (bay__wasm_cap){DEFAULT_PAGES, "the default cap (set limits." CAP_KEY " in plugin.json to change it)"};
    return (bay__wasm_cap){(uint32_t)pages, "limits." CAP_KEY " in plugin.json"};
}

/* start checks the mapped module against the manifest (its functions, the memory cap) and starts it. */
static int start(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    bay_error e;
    bay__wasm_cap cap = memory_cap(p);
    char **exports;
    int rc;
    if ((rc = bay__wasm_check(module.wasm, module.len, functions, &module.shape, &e)))
        return bay_error_set(err, rc, p->id, "%s: %s", module.path, e.message);
    if (module.shape.min_pages > cap.pages)
        return bay_error_set(err, BAY_EPLUGIN, p->id,
                             "%s starts with %u memory pages (%u KiB), above its cap of %u pages set by %s; raise "
                             "the cap or link the module with a smaller -Wl,--initial-memory",
                             module.path, module.shape.min_pages, module.shape.min_pages * 64, cap.pages, cap.source);
    if ((rc = bay__wasm_entries(module.wasm, module.len, &exports, &e)))
        return bay_error_set(err, rc, p->id, "%s: %s", module.path, e.message);
    bay__wasm_on_renew(bay__wasm_wasi_reset); /* a fresh instance starts with no file open */
    if ((rc = bay__wasm_wasi_open(p->data_dir, p->permissions, err))) {
        free(exports); /* one block (bay__wasm_entries) */
        return rc;
    }
    return bay__wasm_start(&module.shape, exports, cap, p->config, err);
}

/* wasm_unload ends the module and closes the files WASI opened for it. */
static void wasm_unload(void)
{
    bay__wasm_close();
    bay__wasm_wasi_close();
}

static int wasm_load(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", p->dir, p->entry);
    int rc = module.prepared ? module.err.code : map_module(p->id, p->dir, p->entry, p->data_dir, err);
    if (module.prepared && rc)
        *err = module.err;
    else if (module.prepared && strcmp(path, module.path) != 0)
        rc = bay_error_set(err, BAY_ESTATE, p->id, "plugin.json changed while the worker started (entry %s, then %s); "
                           "reload the plugin", module.path, path);
    if (rc == 0)
        rc = start(p, functions, err);
    free(module.wasm);
    module.wasm = NULL;
    if (rc)
        wasm_unload();
    return rc;
}

static const bay__bridge wasm_bridge = {
    .language = "wasm",
    .load = wasm_load,
    .call = bay__wasm_run,
    .unload = wasm_unload,
    .has = bay__wasm_has,
    .interrupt = bay__wasm_interrupt,
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--compile") == 0)
        return compile_only(argc, argv);
    bay__zygote(argc, argv, &wasm_bridge);
    prepare_early();
    return bay__worker_main(&wasm_bridge);
}
