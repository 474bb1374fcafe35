/* broker/manifest.h — plugin.json: parsing and validation of a plugin's manifest. */
#ifndef BAY_MANIFEST_H
#define BAY_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

#include "semver.h"

/* One extension point the plugin provides. */
typedef struct bay__provide_decl {
    char *name;      /* extension point name */
    int kind;        /* BAY_HANDLE, BAY_EVENT or BAY_FILTER (plugbay.h) */
    char *function;  /* function in the plugin that serves it (default: name with '.', '-', ':' as '_') */
    char **contexts; /* NULL-terminated list; NULL when the provider takes every context */
    char *signature; /* the C signature of a library binding's function (docs/ffi-bindings.md); NULL otherwise */
    json_t *types;   /* its shape {"args", "result", "input": SCHEMA} (docs/types.md), or NULL */
} bay__provide_decl;

/* A dependency on another plugin. */
typedef struct bay__dep_decl {
    char *id;    /* plugin id */
    char *range; /* semver range ("^1.2", ">=1.0.0 <2.0.0", "*") */
} bay__dep_decl;

/* A timer the broker fires. */
typedef struct bay__timer_decl {
    char *name;          /* timer name */
    char *function;      /* function called on each tick */
    int64_t interval_ms; /* 1 .. 86400000 */
} bay__timer_decl;

/* Operating-system limits of the plugin's worker; 0 means the broker's default. */
typedef struct bay__limits {
    int64_t memory_mb;   /* MiB beyond the worker's own: private (RLIMIT_DATA), mapped (RLIMIT_AS), shared (watched) */
    int64_t open_files;  /* open file descriptors */
    int64_t cpu_seconds; /* CPU time over the worker's life */
    int64_t storage_mb;  /* the plugin's store (bridges/common/store.c reads it from the manifest) */
    /* Each language's own limits, for a plugin in that language only (0: the bridge's default). */
    int64_t lua_memory_mb;     /* the Lua state's allocations */
    int64_t lua_instructions;  /* Lua VM instructions per call */
    int64_t python_memory_mb;  /* the interpreter's allocations */
    int64_t wasm_memory_pages; /* the module's linear memory, in 64 KiB pages */
} bay__limits;

/* A panel of the plugin's own user interface, shown by the web console (docs/manifest.md#ui). */
typedef struct bay__panel_decl {
    char *panel; /* its name: 1 to 64 of a-z, 0-9, "_" and "-", unique in the manifest */
    char *title; /* shown above it (translations may give others) */
    char *entry; /* its HTML page: a file inside the plugin folder; the panel's files are those of its folder */
} bay__panel_decl;

/* The most panels a manifest may declare. */
#define BAY_PANELS_MAX 16

typedef struct bay__manifest {
    char *id;   /* plugin id: folder path relative to the plugins dir ("example/hello") */
    char *dir;  /* absolute plugin folder */
    char *path; /* absolute path of plugin.json, used in error messages */

    char *name, *brief, *description, *author, *site, *email, *license; /* metadata; NULL when absent */
    char *version;   /* as written */
    bay__semver ver;  /* parsed */
    char *language;  /* "c", "lua", "python", "wasm" */
    char *entry;     /* file inside dir (the shared object, main.lua, ...); NULL for a library binding */
    char *library;   /* for a library binding: a soname or a path inside dir; NULL otherwise */
    bay__limits limits;
    char *host;      /* semver range of compatible host (broker) versions; NULL = any */
    int order;       /* tie-breaker in load order, lower first; default 0 */
    int replicas;    /* workers its calls spread over, 1 to BAY_REPLICAS_MAX; default 1 */

    bay__provide_decl *provides; size_t nprovides;
    bay__dep_decl *deps;         size_t ndeps;
    bay__timer_decl *timers;     size_t ntimers;
    char **permissions;         size_t npermissions; /* NULL-terminated; NULL when absent */
    json_t *config;             /* object of configuration defaults (never NULL; owned) */
    json_t *settings;           /* object of setting declarations, checked (setting.h; never NULL; owned) */
    bay__panel_decl *panels;    size_t npanels;      /* "ui" */
    json_t *translations;       /* object of locale -> texts in that locale, checked (never NULL; owned) */
    char *messages;             /* folder inside dir of LOCALE.json message catalogues; NULL when absent */
    char *locale;               /* the locale the manifest's own texts are in ("en" when absent) */
    json_t *doc;                /* the whole document as read and validated, for the worker (owned) */
} bay__manifest;

/* The most workers a manifest's "replicas" may ask for (plugbayd's --replicas-max may allow fewer). */
#define BAY_REPLICAS_MAX 64

/* The most bytes a plugin.json may have. */
#define BAY_MANIFEST_MAX (1 << 20)

/* bay__manifest_load reads DIR/ID/plugin.json. On success *out is a new
 * manifest the caller frees with bay__manifest_free(). On failure returns
 * BAY_EMANIFEST (BAY_EIO when the file cannot be read, BAY_EINVAL when id is
 * not a plugin id, BAY_ENOMEM) and fills err (NULL allowed) with a message
 * that names the file, the field and what is expected, e.g.
 * `plugins/x/plugin.json: field "version": expected a semver string like "1.2.0", got "1.x"`,
 * and with id as its plugin (once id is known to be a plugin id).
 * A code file (entry, or library given as a path) that a symbolic link leads
 * outside the plugin folder is refused too (BAY_EMANIFEST), naming where it leads,
 * and so is a panel's entry or the "messages" folder that is missing, is not
 * a regular file (a folder), or leads outside the plugin folder. */
int bay__manifest_load(const char *plugins_dir, const char *id, bay__manifest **out, bay_error *err);

/* bay__manifest_parse validates JSON text as a manifest; path is used in error
 * messages and dir as the plugin folder. path, dir and id are copied into the
 * manifest (each may be NULL: left NULL there). Same contract as
 * bay__manifest_load (err's plugin is id). The schema is docs/manifest.md. */
int bay__manifest_parse(const char *text, const char *path, const char *dir, const char *id,
                       bay__manifest **out, bay_error *err);

/* bay__manifest_read reads the plugin.json of folder dir (a regular file, not
 * a link, of at most BAY_MANIFEST_MAX bytes) as bay__manifest_parse does, with
 * dir as the plugin folder and the "id" field, if any, as its id (a folder
 * outside the plugins folder: a package's). where ("DIR", "package FILE")
 * begins each message. BAY_EMANIFEST also when there is no plugin.json or it
 * is no regular file; BAY_EIO when it cannot be read. Panels' entries and the
 * "messages" folder are checked as bay__manifest_load checks them. */
int bay__manifest_read(const char *dir, const char *where, bay__manifest **m, bay_error *err);

/* bay__manifest_free frees m. NULL is ignored. */
void bay__manifest_free(bay__manifest *m);

/* What bay__manifest_scan tells as it goes (each function may be NULL):
 * folder(path, plugin, arg) for each folder it is about to read (plugin
 * false; the plugins folder first) and each plugin folder it finds (plugin
 * true), so that a watch set up there misses nothing after; refused(rel,
 * why, arg) for each entry it passes over that looks meant as a plugin
 * folder: a symbolic link, or a folder whose path is no plugin id (rel is
 * that path below the plugins folder, why a line saying what to do). */
typedef struct bay__scan_hooks {
    void (*folder)(const char *path, bool plugin, void *arg);
    void (*refused)(const char *rel, const char *why, void *arg);
    void *arg;
} bay__scan_hooks;

/* bay__manifest_scan lists the plugin ids under plugins_dir: every folder
 * (searched up to 4 levels deep) that holds a plugin.json, sorted. It does not
 * look inside a plugin's folder, follows no symbolic link below plugins_dir
 * and passes over hidden names (".git"); a link, and a folder whose name
 * cannot be part of a plugin id, are refused through hooks (NULL allowed).
 * *ids is a NULL-terminated array the caller frees with
 * bay__strv_free(). BAY_EIO when plugins_dir or a folder below cannot be read,
 * BAY_ENOMEM, each with a message naming plugins_dir in err (NULL allowed). */
int bay__manifest_scan(const char *plugins_dir, char ***ids, const bay__scan_hooks *hooks, bay_error *err);

/* bay__plugin_id_valid tells whether id is a plugin id: "/"-separated folder
 * names of [A-Za-z0-9_.-], none empty or starting with '.', at most
 * BAY_PLUGIN_ID_MAX bytes in all (so it fits bay_error.plugin). */
#define BAY_PLUGIN_ID_MAX 127
bool bay__plugin_id_valid(const char *id);

/* bay__strv_len counts the strings of the NULL-terminated array v (NULL: 0). */
size_t bay__strv_len(const char *const *v);

/* bay__strv_has tells whether the NULL-terminated array v (NULL: empty) holds s. */
bool bay__strv_has(const char *const *v, const char *s);

/* bay__strv_copy returns a deep copy of the NULL-terminated array v (NULL
 * gives an empty array) the caller frees with bay__strv_free(), or NULL when
 * out of memory. */
char **bay__strv_copy(const char *const *v);

/* bay__strv_free frees a NULL-terminated array of strings and the strings. */
void bay__strv_free(char **v);

#endif
