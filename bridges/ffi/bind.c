/* bridges/ffi/bind.c — loading a library binding: signatures, the library, its symbols and their libffi calls. */
#include "bay_ffi.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"

/* The binding this worker runs. */
static struct {
    void *handle;          /* the library, from dlopen */
    bay__binding *bindings; /* one per provide, in manifest order */
    size_t n;
} lib;

/* Where load errors go: the plugin, the path of its plugin.json, the caller's error. */
typedef struct report {
    const char *id, *path;
    bay_error *err;
} report;

static int field_error(const report *r, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* field_error says "PATH: field "FIELD": MESSAGE". Returns code. */
static int field_error(const report *r, int code, const char *field, const char *fmt, ...)
{
    char text[sizeof r->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return bay_error_set(r->err, code, r->id, "%s: field \"%s\": %s", r->path, field, text);
}

/* find_binding returns the binding called function among the first n, or NULL. */
static bay__binding *find_binding(const char *function, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(lib.bindings[i].function, function) == 0)
            return &lib.bindings[i];
    return NULL;
}

/* function_of writes the function the broker calls provide item by: its
 * "function", else its "name" with '.', '-' and ':' as '_' (docs/manifest.md). */
static int function_of(const report *r, const json_t *item, const char *field, char out[BAY_SIG_NAME_MAX])
{
    const char *fn = json_string_value(json_object_get(item, "function"));
    const char *name = json_string_value(json_object_get(item, "name"));
    if (!fn && !name)
        return field_error(r, BAY_EMANIFEST, field, "expected a provide with a \"name\"");
    if ((size_t)snprintf(out, BAY_SIG_NAME_MAX, "%s", fn ? fn : name) >= BAY_SIG_NAME_MAX)
        return field_error(r, BAY_EMANIFEST, field, "the function name is longer than %d characters",
                           BAY_SIG_NAME_MAX - 1);
    for (char *c = out; !fn && *c; c++)
        if (strchr(".-:", *c))
            *c = '_';
    return 0;
}

/* parse_provide fills b's function and signature from provides[i] (item). */
static int parse_provide(const report *r, const json_t *item, size_t i, bay__binding *b)
{
    char field[64];
    bay_error e;
    snprintf(field, sizeof field, "provides[%zu]", i);
    int rc = function_of(r, item, field, b->function);
    if (rc)
        return rc;
    const bay__binding *twin = find_binding(b->function, i);
    if (twin)
        return field_error(r, BAY_EMANIFEST, field,
                           "function \"%s\" already serves provides[%zu]; each provide of a binding needs a function "
                           "of its own (leave \"function\" out)",
                           b->function, (size_t)(twin - lib.bindings));
    snprintf(field, sizeof field, "provides[%zu].signature", i);
    const json_t *sig = json_object_get(item, "signature");
    if (!json_is_string(sig))
        return field_error(r, BAY_EMANIFEST, field,
                           "expected a signature string like \"double cos(double x)\", got %s (every provide of a "
                           "plugin with a \"library\" needs one; see docs/ffi-bindings.md)",
                           sig ? "another JSON type" : "nothing");
    if (bay__signature_parse(json_string_value(sig), &b->sig, &e))
        return field_error(r, BAY_EMANIFEST, field, "%s; see docs/ffi-bindings.md", e.message);
    return 0;
}

/* open_library opens library: a soname, or with a '/' a path inside the plugin folder dir. */
static int open_library(const report *r, const char *dir, const char *library)
{
    char path[PATH_MAX];
    if (!library || !*library)
        return field_error(r, BAY_EMANIFEST, "library",
                           "expected a soname like \"libz.so.1\" or a path inside the plugin folder like "
                           "\"lib/libvendor.so\"");
    int n = strchr(library, '/') ? snprintf(path, sizeof path, "%s/%s", dir, library)
                                 : snprintf(path, sizeof path, "%s", library);
    if (n < 0 || (size_t)n >= sizeof path)
        return field_error(r, BAY_EMANIFEST, "library", "the path %s/%s is too long", dir, library);
    lib.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle)
        return field_error(r, BAY_EIO, "library", "cannot open \"%s\": %s", library, dlerror());
    return 0;
}

/* find_symbol looks up provides[i]'s symbol in the library and prepares its libffi call. */
static int find_symbol(const report *r, const char *library, size_t i, bay__binding *b)
{
    char field[64];
    snprintf(field, sizeof field, "provides[%zu].signature", i);
    dlerror();
    void *sym = dlsym(lib.handle, b->sig.symbol);
    const char *why = dlerror();
    if (!sym)
        return field_error(r, BAY_EMANIFEST, field, "library \"%s\" has no symbol \"%s\" (%s)", library,
                           b->sig.symbol, why ? why : "its address is NULL");
    b->fn = (void (*)(void))sym;
    int st = bay__binding_prepare(b);
    if (st != FFI_OK)
        return field_error(r, BAY_EMANIFEST, field, "libffi cannot prepare a call to %s (ffi_prep_cif returned %d)",
                           b->sig.symbol, st);
    return 0;
}

/* bind_all parses every provide, opens the library and binds each symbol;
 * every function the broker will call must be bound. */
static int bind_all(const report *r, const bay__plugin_info *p, const json_t *manifest, const char *const *functions)
{
    const json_t *provides = json_object_get(manifest, "provides");
    const char *library = json_string_value(json_object_get(manifest, "library"));
    size_t n = json_array_size(provides);
    int rc;
    if (!(lib.bindings = calloc(n ? n : 1, sizeof *lib.bindings)))
        return bay_error_set(r->err, BAY_ENOMEM, r->id, "%s: %s", r->path, bay_strerror(BAY_ENOMEM));
    /* Mistakes in the manifest come first: they need no library to be found. */
    for (lib.n = 0; lib.n < n; lib.n++)
        if ((rc = parse_provide(r, json_array_get(provides, lib.n), lib.n, &lib.bindings[lib.n])))
            return rc;
    if ((rc = open_library(r, p->dir, library)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = find_symbol(r, library, i, &lib.bindings[i])))
            return rc;
    for (const char *const *fn = functions; *fn; fn++)
        if (!find_binding(*fn, lib.n))
            return bay_error_set(r->err, BAY_EMANIFEST, r->id,
                                 "%s: a timer calls function \"%s\" but no provide binds it (a timer of a binding "
                                 "names the \"function\" of a provide)",
                                 r->path, *fn);
    return 0;
}

int bay__ffi_load(const bay__plugin_info *p, const json_t *manifest, const char *path, const char *const *functions,
                 bay_error *err)
{
    report r = {p->id, path, err};
    int rc = bind_all(&r, p, manifest, functions);
    if (rc)
        bay__ffi_unload();
    return rc;
}

int bay__ffi_call(const char *function, bay_invocation *call, const bay_value *args, bay_value **result)
{
    return bay__binding_call(find_binding(function, lib.n), call, args, result); /* load bound every function */
}

void bay__ffi_unload(void)
{
    if (lib.handle)
        dlclose(lib.handle);
    free(lib.bindings);
    lib.handle = NULL;
    lib.bindings = NULL;
    lib.n = 0;
}
