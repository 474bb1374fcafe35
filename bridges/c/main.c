/* bridges/c/main.c — plugbay-worker-c: loads native C plugins (shared objects) and library bindings (bridges/ffi). */
#include <dlfcn.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bay_ffi.h"
#include "value_convert.h"
#include "worker.h"
#include "zygote.h"

/* The one plugin this worker runs. */
static struct {
    char path[PATH_MAX];       /* DIR/ENTRY, for messages */
    void *handle;              /* from dlopen */
    const bay_plugin_def *def; /* the plugin's bay_plugin descriptor */
} plugin;

static bay_plugin_fn find_export(const char *name)
{
    for (const bay_export *e = plugin.def->exports; e && e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->fn;
    return NULL;
}

/* list_exports writes the plugin's export names, comma-separated, into buf. */
static void list_exports(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const bay_export *e = plugin.def->exports; e && e->name && used < size; e++) {
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", e->name);
        used += w > 0 ? (size_t)w : 0;
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "nothing");
}

/* open_plugin does the work of native_load, leaving the handle open even on failure. */
static int open_plugin(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    int n = p->entry[0] == '/' ? snprintf(plugin.path, sizeof plugin.path, "%s", p->entry)
                               : snprintf(plugin.path, sizeof plugin.path, "%s/%s", p->dir, p->entry);
    if (n < 0 || (size_t)n >= sizeof plugin.path)
        return bay_error_set(err, BAY_EINVAL, p->id, "plugin path %s/%s is too long", p->dir, p->entry);
    plugin.handle = dlopen(plugin.path, RTLD_NOW | RTLD_LOCAL);
    if (plugin.handle == NULL)
        return bay_error_set(err, BAY_EIO, p->id, "cannot load %s: %s", plugin.path, dlerror());
    plugin.def = dlsym(plugin.handle, "bay_plugin");
    if (plugin.def == NULL)
        return bay_error_set(err, BAY_EPLUGIN, p->id,
                             "%s defines no plugin: symbol bay_plugin not found (define it with BAY_PLUGIN(...) "
                             "from plugbay/plugin.h)",
                             plugin.path);
    if (plugin.def->abi != BAY_PLUGIN_ABI)
        return bay_error_set(err, BAY_EPLUGIN, p->id,
                             "%s was built for plugin ABI %d but this worker runs ABI %d; rebuild it against this "
                             "plugbay's plugbay/plugin.h",
                             plugin.path, plugin.def->abi, BAY_PLUGIN_ABI);
    for (const char *const *fn = functions; *fn; fn++) {
        if (find_export(*fn))
            continue;
        char names[256];
        list_exports(names, sizeof names);
        return bay_error_set(err, BAY_EMANIFEST, p->id,
                             "plugin.json names function \"%s\" but %s does not export it; it exports: %s", *fn,
                             plugin.path, names);
    }
    int rc = plugin.def->on_load ? plugin.def->on_load() : 0;
    if (rc)
        return bay_error_set(err, BAY_EPLUGIN, p->id, "%s: on_load returned %d", plugin.path, rc);
    return 0;
}

/* native_load loads the entry as a native plugin; it needs nothing from the manifest. */
static int native_load(const bay__plugin_info *p, const json_t *manifest, const char *path,
                       const char *const *functions, bay_error *err)
{
    int rc = open_plugin(p, functions, err);
    if (rc && plugin.handle) {
        dlclose(plugin.handle);
        plugin.handle = NULL;
        plugin.def = NULL;
    }
    return rc;
}

static int native_call(const char *function, bay_invocation *call, const bay_value *args, bay_value **result)
{
    bay_plugin_fn fn = find_export(function); /* load checked that it exists */
    return fn(call, args, result);
}

static void native_unload(void)
{
    if (plugin.def->on_unload)
        plugin.def->on_unload();
    dlclose(plugin.handle);
    plugin.handle = NULL;
    plugin.def = NULL;
}

/* The two kinds of C plugin. load gets the plugin's manifest (borrowed) and its path. */
typedef struct kind {
    int (*load)(const bay__plugin_info *p, const json_t *manifest, const char *path, const char *const *functions,
                bay_error *err);
    int (*call)(const char *function, bay_invocation *call, const bay_value *args, bay_value **result);
    void (*unload)(void);
} kind;

static const kind native = {native_load, native_call, native_unload};
static const kind binding = {bay__ffi_load, bay__ffi_call, bay__ffi_unload};
static const kind *loaded;

/* c_load looks at the manifest plugbayd sent: with a "library" the plugin
 * is a binding (docs/ffi-bindings.md), otherwise its entry is a native
 * plugin. path (plugin.json) names the manifest in messages. */
static int c_load(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/plugin.json", p->dir) >= sizeof path)
        return bay_error_set(err, BAY_EINVAL, p->id, "plugin folder path %s is too long", p->dir);
    bay_error e;
    json_t *manifest = bay__value_to_jansson(p->manifest, &e);
    if (!manifest)
        return bay_error_set(err, BAY_EPROTO, p->id, "COMMAND load: its manifest: %s", e.message);
    const kind *k = json_object_get(manifest, "library") ? &binding : &native;
    int rc = k->load(p, manifest, path, functions, err);
    json_decref(manifest);
    loaded = rc ? NULL : k;
    return rc;
}

static int c_call(const char *function, bay_invocation *call, const bay_value *args, bay_value **result)
{
    return loaded->call(function, call, args, result);
}

static void c_unload(void)
{
    loaded->unload();
    loaded = NULL;
}

/* c_has finds a function (a hook, a timer's) among a native plugin's exports, on_load running or done; a
 * binding of a library has none. */
static bool c_has(const char *function)
{
    return plugin.def != NULL && find_export(function) != NULL;
}

static const bay__bridge c_bridge = {
    .language = "c",
    .load = c_load,
    .call = c_call,
    .unload = c_unload,
    .has = c_has,
};

int main(int argc, char **argv)
{
    bay__zygote(argc, argv, &c_bridge);
    return bay__worker_main(&c_bridge);
}
