/* broker/manifest.c — reads plugin.json, checks it against the manifest schema, and finds plugins on disk. */
#include "manifest.h"
#include "frame.h"
#include "schema.h"
#include "setting.h"

#include <plugbay/error.h>
#include <plugbay/plugbay.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "locale_name.h"
#include "csig.h" /* the C signatures of a library binding (bridges/ffi) */

#define SCAN_DEPTH 4          /* how many folders deep plugins are looked for */
#define NAME_MAX_LEN 128      /* provide and timer names */
#define INTERVAL_MAX 86400000 /* one day, in milliseconds */
#define FIELD_LEN 256         /* "provides[12].contexts[3]", "dependencies.example/hello" */
#define GOT_LEN 64            /* how much of a wrong string value a message quotes */

/* Where messages go: the file they are about, the plugin id (NULL when not
 * known) and the caller's error. */
typedef struct report {
    const char *path;
    const char *id;
    bay_error *err;
} report;

/* What a field must hold: a JSON type, an extra rule on the value (NULL: the
 * type is enough), and how a message describes it. */
typedef struct want {
    json_type type;
    bool (*rule)(const json_t *v);
    const char *expected;
} want;

/* Parses one item of a list: field names it in messages, out is its element. */
typedef int (*item_fn)(const report *r, json_t *item, const char *field, void *out);

static int say(const report *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* say fills r->err with "PATH: " and the message; returns code. */
static int say(const report *r, int code, const char *fmt, ...)
{
    char what[sizeof r->err->message];
    va_list ap;
    if (!r->err)
        return code;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bay_error_set(r->err, code, r->id, "%s: %s", r->path, what);
}

/* copy_str copies s into *out (NULL stays NULL). */
static int copy_str(const report *r, const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return *out || !s ? 0 : say(r, BAY_ENOMEM, "out of memory");
}

/* ---- rules ---------------------------------------------------------------- */

static bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* spans tells whether s (of length n) is 1..max characters of alnum or extra. */
static bool spans(const char *s, size_t n, const char *extra, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

static bool is_identifier(const char *s)
{
    return spans(s, strlen(s), "_", SIZE_MAX) && !(s[0] >= '0' && s[0] <= '9');
}

bool bay__plugin_id_valid(const char *id)
{
    if (!id || strlen(id) > BAY_PLUGIN_ID_MAX)
        return false;
    for (;;) {
        size_t n = strcspn(id, "/");
        if (id[0] == '.' || !spans(id, n, "_.-", SIZE_MAX))
            return false;
        if (!id[n])
            return true;
        id += n + 1;
    }
}

static bool rule_nonempty(const json_t *v) { return json_string_length(v) > 0; }
static bool rule_plugin_id(const json_t *v) { return bay__plugin_id_valid(json_string_value(v)); }

static bool rule_semver(const json_t *v)
{
    bay__semver sv;
    return bay__semver_parse(json_string_value(v), &sv) == 0;
}

static bool rule_language(const json_t *v)
{
    static const char *const langs[] = {"c", "lua", "python", "wasm"};
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++)
        if (strcmp(json_string_value(v), langs[i]) == 0)
            return true;
    return false;
}

/* A relative path inside the plugin folder: no leading '/', no empty or ".." part. */
static bool rule_entry(const json_t *v)
{
    const char *s = json_string_value(v);
    for (;;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (!s[n])
            return true;
        s += n + 1;
    }
}

static bool rule_name(const json_t *v)
{
    return spans(json_string_value(v), json_string_length(v), "_.:-", NAME_MAX_LEN);
}

static bool rule_kind(const json_t *v)
{
    return bay__kind_parse(json_string_value(v)) != 0;
}

static bool rule_identifier(const json_t *v) { return is_identifier(json_string_value(v)); }

static bool rule_interval(const json_t *v)
{
    return json_integer_value(v) >= 1 && json_integer_value(v) <= INTERVAL_MAX;
}

static bool rule_replicas(const json_t *v)
{
    return json_integer_value(v) >= 1 && json_integer_value(v) <= BAY_REPLICAS_MAX;
}

static bool rule_int(const json_t *v)
{
    return json_integer_value(v) >= INT_MIN && json_integer_value(v) <= INT_MAX;
}

static bool rule_nonempty_array(const json_t *v) { return json_array_size(v) > 0; }

/* A soname ("libz.so.1": no '/') or a relative path inside the plugin folder. */
static bool rule_library(const json_t *v)
{
    return json_string_length(v) > 0 && (strchr(json_string_value(v), '/') == NULL || rule_entry(v));
}

static bool rule_memory(const json_t *v) { return json_integer_value(v) >= 16 && json_integer_value(v) <= 1048576; }
static bool rule_files(const json_t *v) { return json_integer_value(v) >= 16 && json_integer_value(v) <= 65536; }
static bool rule_seconds(const json_t *v) { return json_integer_value(v) >= 1 && json_integer_value(v) <= 31536000; }
static bool rule_lua_mb(const json_t *v) { return json_integer_value(v) >= 1 && json_integer_value(v) <= 4096; }
static bool rule_lua_steps(const json_t *v) { return json_integer_value(v) >= 1000; }
static bool rule_python_mb(const json_t *v) { return json_integer_value(v) >= 32 && json_integer_value(v) <= 65536; }
static bool rule_wasm_pages(const json_t *v) { return json_integer_value(v) >= 1 && json_integer_value(v) <= 32768; }
static bool rule_panels(const json_t *v) { return json_array_size(v) <= BAY_PANELS_MAX; }
static bool rule_locale(const json_t *v) { return bay__locale_valid(json_string_value(v)); }
static bool rule_panel_name(const json_t *v)
{
    const char *s = json_string_value(v);
    return spans(s, strlen(s), "_-", 64) && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}
static bool rule_storage_mb(const json_t *v) { return json_integer_value(v) >= 1 && json_integer_value(v) <= 65536; }

static const want W_STRING = {JSON_STRING, NULL, "a string"};
static const want W_TEXT = {JSON_STRING, rule_nonempty, "a non-empty string"};
static const want W_PLUGIN_ID = {JSON_STRING, rule_plugin_id,
                                  "a plugin id like \"example/hello\": folder names of letters, digits, \"_\", \".\" "
                                  "and \"-\" joined by \"/\""};
static const want W_SEMVER = {JSON_STRING, rule_semver, "a semver string like \"1.2.0\""};
static const want W_LANGUAGE = {JSON_STRING, rule_language, "one of \"c\", \"lua\", \"python\", \"wasm\""};
static const want W_ENTRY = {JSON_STRING, rule_entry,
                             "a relative path inside the plugin folder like \"main.lua\" (no leading \"/\", no \"..\")"};
static const want W_NAME = {JSON_STRING, rule_name,
                            "a name of 1 to 128 letters, digits, \"_\", \".\", \":\" or \"-\" like \"editor.save\""};
static const want W_KIND = {JSON_STRING, rule_kind, "\"handle\", \"event\" or \"filter\""};
static const want W_FUNCTION = {JSON_STRING, rule_identifier,
                                "an identifier like \"on_save\" (letters, digits and \"_\", not starting with a digit)"};
static const want W_RANGE = {JSON_STRING, NULL, "a semver range like \"^1.2\" or \">=1.0.0 <2.0.0\""};
static const want W_ORDER = {JSON_INTEGER, rule_int, "an integer like -10 or 5"};
#define STR_(x) #x
#define STR(x) STR_(x)
static const want W_REPLICAS = {JSON_INTEGER, rule_replicas, "an integer from 1 to " STR(BAY_REPLICAS_MAX)};
static const want W_INTERVAL = {JSON_INTEGER, rule_interval, "an integer number of milliseconds from 1 to 86400000"};
static const want W_PROVIDES = {JSON_ARRAY, NULL, "an array of provides (it may be empty)"};
static const want W_PROVIDE = {JSON_OBJECT, NULL, "an object like {\"name\": \"editor.save\", \"kind\": \"handle\"}"};
static const want W_CONTEXTS = {JSON_ARRAY, rule_nonempty_array,
                                "a non-empty array of non-empty strings (leave it out to take every context)"};
static const want W_PERMISSIONS = {JSON_ARRAY, NULL, "an array of non-empty strings"};
static const want W_TIMERS = {JSON_ARRAY, NULL, "an array of timers"};
static const want W_TIMER = {JSON_OBJECT, NULL, "an object like {\"name\": \"tick\", \"interval_ms\": 1000}"};
static const want W_DEPENDENCIES = {JSON_OBJECT, NULL, "an object mapping plugin ids to version ranges"};
static const want W_CONFIG = {JSON_OBJECT, NULL, "an object of configuration defaults"};
static const want W_SETTINGS = {JSON_OBJECT, NULL, "an object of setting declarations"};
static const want W_TYPES = {JSON_OBJECT, NULL, "an object {\"args\": SCHEMA, \"result\": SCHEMA} (docs/types.md)"};
static const want W_LIBRARY = {JSON_STRING, rule_library,
                               "a library soname like \"libz.so.1\" or a relative path inside the plugin folder"};
static const want W_SIGNATURE = {JSON_STRING, rule_nonempty, "a C signature like \"ulong crc32(ulong, bytes b, uint len(b))\""};
static const want W_LIMITS = {JSON_OBJECT, NULL, "an object like {\"memory_mb\": 256, \"open_files\": 64}"};
static const want W_MEMORY = {JSON_INTEGER, rule_memory, "a whole number of MiB from 16 to 1048576"};
static const want W_FILES = {JSON_INTEGER, rule_files, "a whole number from 16 to 65536"};
static const want W_SECONDS = {JSON_INTEGER, rule_seconds, "a whole number of seconds from 1 to 31536000"};
static const want W_LUA_MB = {JSON_INTEGER, rule_lua_mb, "a whole number of MiB from 1 to 4096"};
static const want W_LUA_STEPS = {JSON_INTEGER, rule_lua_steps, "a whole number of instructions from 1000 up"};
static const want W_PYTHON_MB = {JSON_INTEGER, rule_python_mb, "a whole number of MiB from 32 to 65536"};
static const want W_WASM_PAGES = {JSON_INTEGER, rule_wasm_pages, "a whole number of 64 KiB pages from 1 to 32768"};
static const want W_PANELS = {JSON_ARRAY, rule_panels, "an array of at most 16 panels"};
static const want W_PANEL = {JSON_OBJECT, NULL,
                             "an object like {\"panel\": \"main\", \"title\": \"Greeter\", \"entry\": \"ui/index.html\"}"};
static const want W_PANEL_NAME = {JSON_STRING, rule_panel_name, "a name of 1 to 64 of a-z, 0-9, \"_\" and \"-\""};
static const want W_PAGE = {JSON_STRING, rule_entry, "a file inside the plugin folder like \"ui/index.html\""};
static const want W_FOLDER = {JSON_STRING, rule_entry, "a folder inside the plugin folder like \"locales\""};
static const want W_LOCALE = {JSON_STRING, rule_locale, "a locale like \"en\" or \"pt_BR\""};
static const want W_TRANSLATIONS = {JSON_OBJECT, NULL, "an object mapping locales like \"fr\" to translated texts"};
static const want W_TRANSLATION = {JSON_OBJECT, NULL,
                                   "an object like {\"name\": \"...\", \"brief\": \"...\", \"settings\": {...}, "
                                   "\"ui\": {...}}"};
static const want W_OBJECT = {JSON_OBJECT, NULL, "an object"};
static const want W_STORAGE_MB = {JSON_INTEGER, rule_storage_mb, "a whole number of MiB from 1 to 65536"};

/* ---- checking values ------------------------------------------------------ */

/* quote writes s as a short quoted string, control characters as '?'. */
static void quote(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s), max = len - 6; /* two quotes, "...", NUL */
    bool cut = n > max;
    if (cut)
        for (n = max; n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; n--)
            ; /* do not split a UTF-8 sequence */
    size_t i = 0;
    buf[i++] = '"';
    for (size_t j = 0; j < n; j++)
        buf[i++] = (unsigned char)s[j] < 0x20 ? '?' : s[j];
    snprintf(buf + i, len - i, "%s\"", cut ? "..." : "");
}

/* describe says in a few words what v is, for the "got ..." part of a message. */
static void describe(const json_t *v, char *buf, size_t len)
{
    if (!v) {
        snprintf(buf, len, "nothing (the field is required)");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING: quote(json_string_value(v), buf, len); return;
    case JSON_INTEGER: snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); return;
    case JSON_REAL: snprintf(buf, len, "%g", json_real_value(v)); return;
    case JSON_TRUE: snprintf(buf, len, "true"); return;
    case JSON_FALSE: snprintf(buf, len, "false"); return;
    case JSON_NULL: snprintf(buf, len, "null"); return;
    case JSON_OBJECT: snprintf(buf, len, "an object"); return;
    case JSON_ARRAY: snprintf(buf, len, "an array"); return;
    }
}

/* explain reports `field "FIELD": expected EXPECTED, got GOT[ (WHY)]`. */
static int explain(const report *r, const char *field, const char *expected, const char *got, const char *why)
{
    return say(r, BAY_EMANIFEST, "field \"%s\": expected %s, got %s%s%s%s", field, expected, got,
               why ? " (" : "", why ? why : "", why ? ")" : "");
}

/* check accepts v (NULL: absent) when it has w's type and passes w's rule;
 * otherwise explains what field should hold. */
static int check(const report *r, const char *field, const json_t *v, const want *w)
{
    char got[GOT_LEN];
    if (v && json_typeof(v) == w->type && (!w->rule || w->rule(v)))
        return 0;
    describe(v, got, sizeof got);
    return explain(r, field, w->expected, got, NULL);
}

/* name_field writes the name of key inside `at` ("" at the top level). */
static void name_field(char *buf, size_t len, const char *at, const char *key)
{
    snprintf(buf, len, "%s%s%s", at, *at ? "." : "", key);
}

/* get fetches key from obj (the value of field `at`) and checks it against w.
 * *out is the value, or NULL when the field is absent and not required. */
static int get(const report *r, json_t *obj, const char *at, const char *key, const want *w, bool required,
               json_t **out)
{
    char field[FIELD_LEN];
    *out = json_object_get(obj, key);
    if (!*out && !required)
        return 0;
    name_field(field, sizeof field, at, key);
    return check(r, field, *out, w);
}

/* get_str is get for strings: *out is a copy, or stays NULL when absent. */
static int get_str(const report *r, json_t *obj, const char *at, const char *key, const want *w, bool required,
                   char **out)
{
    json_t *v;
    int rc = get(r, obj, at, key, w, required, &v);
    return rc || !v ? rc : copy_str(r, json_string_value(v), out);
}

/* get_range is get_str for a semver range, with the reason a bad range is refused. */
static int get_range(const report *r, json_t *obj, const char *at, const char *key, char **out)
{
    char field[FIELD_LEN], got[GOT_LEN];
    bay_error why;
    json_t *v;
    int rc = get(r, obj, at, key, &W_RANGE, false, &v);
    if (rc || !v)
        return rc;
    if (bay__semver_range_check(json_string_value(v), &why)) {
        name_field(field, sizeof field, at, key);
        describe(v, got, sizeof got);
        return explain(r, field, W_RANGE.expected, got, why.message);
    }
    return copy_str(r, json_string_value(v), out);
}

/* get_list fetches the array field key of obj (the value of field `at`) and
 * parses each item with fn into a new array of size-byte elements, one more
 * than the items, all zeroed first (so a list of pointers ends with NULL).
 * *items and *n are set even on failure, *n counting every item fn was given,
 * so the caller can free them. */
static int get_list(const report *r, json_t *obj, const char *at, const char *key, const want *w, bool required,
                    size_t size, item_fn fn, void **items, size_t *n)
{
    char list[FIELD_LEN];
    json_t *arr;
    int rc = get(r, obj, at, key, w, required, &arr);
    *items = NULL;
    *n = 0;
    if (rc || !arr)
        return rc;
    *items = calloc(json_array_size(arr) + 1, size);
    if (!*items)
        return say(r, BAY_ENOMEM, "out of memory");
    name_field(list, sizeof list, at, key);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char field[FIELD_LEN + 24];
        snprintf(field, sizeof field, "%s[%zu]", list, i);
        *n = i + 1;
        if ((rc = fn(r, json_array_get(arr, i), field, (char *)*items + i * size)))
            return rc;
    }
    return 0;
}

/* text_item parses one non-empty string of a list. */
static int text_item(const report *r, json_t *item, const char *field, void *out)
{
    int rc = check(r, field, item, &W_TEXT);
    return rc ? rc : copy_str(r, json_string_value(item), out);
}

/* get_strv reads the optional array field key of obj (named `at`.key) into a
 * NULL-terminated list of non-empty strings; *out stays NULL when absent. */
static int get_strv(const report *r, json_t *obj, const char *at, const char *key, const want *w, char ***out,
                    size_t *n)
{
    void *items;
    size_t count;
    int rc = get_list(r, obj, at, key, w, false, sizeof(char *), text_item, &items, &count);
    *out = items;
    if (n)
        *n = count;
    return rc;
}

/* get_function reads the optional "function" field of a provide or timer
 * whose name is name; when absent it is name with '.', '-' and ':' as '_'. */
static int get_function(const report *r, json_t *obj, const char *at, const char *name, char **out)
{
    char field[FIELD_LEN];
    int rc = get_str(r, obj, at, "function", &W_FUNCTION, false, out);
    if (rc || *out)
        return rc;
    if ((rc = copy_str(r, name, out)))
        return rc;
    for (char *p = *out; *p; p++)
        if (strchr(".-:", *p))
            *p = '_';
    if (is_identifier(*out))
        return 0;
    name_field(field, sizeof field, at, "function");
    return say(r, BAY_EMANIFEST,
               "field \"%s\": expected %s, got nothing, and the name \"%s\" does not make one (set \"function\")",
               field, W_FUNCTION.expected, name);
}

/* ---- unknown fields -------------------------------------------------------- */

/* distance is the optimal-string-alignment edit distance between short strings. */
static size_t distance(const char *a, const char *b)
{
    enum { MAXLEN = 32 };
    size_t n = strlen(a), m = strlen(b), d[MAXLEN + 1][MAXLEN + 1];
    if (n > MAXLEN || m > MAXLEN)
        return SIZE_MAX;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* nearest returns the known name key was probably meant to be, or NULL. */
static const char *nearest(const char *key, const char *const *known)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only within two edits... */
    for (size_t i = 0; known[i]; i++) {
        size_t d = distance(key, known[i]);
        if (strlen(key) >= 3 && strncmp(key, known[i], strlen(key)) == 0)
            d = 1; /* ...or when key starts the name ("desc") */
        if (d < best_d && d < strlen(known[i])) {
            best = known[i];
            best_d = d;
        }
    }
    return best;
}

/* known_only refuses a key of obj (the value of field `at`) that is not in the
 * NULL-terminated list known; what names the object in the message. */
static int known_only(const report *r, json_t *obj, const char *at, const char *what, const char *const *known)
{
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it), *near;
        char field[FIELD_LEN];
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (known[i])
            continue;
        name_field(field, sizeof field, at, key);
        if ((near = nearest(key, known)))
            return say(r, BAY_EMANIFEST, "field \"%s\" is not a %s field (did you mean \"%s\"?)", field, what,
                       near);
        return say(r, BAY_EMANIFEST, "field \"%s\" is not a %s field (see docs/manifest.md)", field, what);
    }
    return 0;
}

/* ---- the schema ---------------------------------------------------------- */

static const char *const manifest_fields[] = {
    "id", "name", "version", "language", "entry", "provides", "brief", "description", "author", "site", "email",
    "license", "host", "order", "dependencies", "permissions", "config", "settings", "timers", "library", "limits",
    "ui", "translations", "messages", "locale", "replicas", NULL};
static const char *const panel_fields[] = {"panel", "title", "entry", NULL};
static const char *const translation_fields[] = {"name", "brief", "description", "settings", "ui", NULL};
static const char *const setting_text_fields[] = {"label", "description", NULL};
static const char *const panel_text_fields[] = {"title", NULL};
static const char *const provide_fields[] = {"name", "kind", "function", "contexts", "signature", "types", NULL};
static const char *const limit_fields[] = {"memory_mb",        "open_files",       "cpu_seconds",
                                           "lua_memory_mb",    "lua_instructions", "python_memory_mb",
                                           "wasm_memory_pages", "storage_mb",       NULL};
static const char *const timer_fields[] = {"name", "interval_ms", "function", NULL};

/* The plain string fields, in the order they are checked. */
static const struct {
    const char *key;
    const want *w;
    bool required;
    size_t offset;
} string_fields[] = {
    {"name", &W_TEXT, true, offsetof(bay__manifest, name)},
    {"version", &W_SEMVER, true, offsetof(bay__manifest, version)},
    {"language", &W_LANGUAGE, true, offsetof(bay__manifest, language)},
    {"library", &W_LIBRARY, false, offsetof(bay__manifest, library)},
    {"brief", &W_STRING, false, offsetof(bay__manifest, brief)},
    {"description", &W_STRING, false, offsetof(bay__manifest, description)},
    {"author", &W_STRING, false, offsetof(bay__manifest, author)},
    {"site", &W_STRING, false, offsetof(bay__manifest, site)},
    {"email", &W_STRING, false, offsetof(bay__manifest, email)},
    {"license", &W_STRING, false, offsetof(bay__manifest, license)},
};

static int provide_item(const report *r, json_t *item, const char *field, void *out)
{
    bay__provide_decl *p = out;
    json_t *kind;
    int rc;
    if ((rc = check(r, field, item, &W_PROVIDE)) || (rc = known_only(r, item, field, "provide", provide_fields)) ||
        (rc = get_str(r, item, field, "name", &W_NAME, true, &p->name)) ||
        (rc = get(r, item, field, "kind", &W_KIND, true, &kind)) ||
        (rc = get_function(r, item, field, p->name, &p->function)) ||
        (rc = get_strv(r, item, field, "contexts", &W_CONTEXTS, &p->contexts, NULL)) ||
        (rc = get_str(r, item, field, "signature", &W_SIGNATURE, false, &p->signature)))
        return rc;
    if (strncmp(p->name, "hook:", 5) == 0 || strncmp(p->name, "timer:", 6) == 0)
        return say(r, BAY_EMANIFEST, "field \"%s.name\": \"%s\" begins with %s, which plugbayd keeps for its own "
                   "calls to plugins; choose another name", field, p->name, p->name[0] == 'h' ? "\"hook:\"" : "\"timer:\"");
    p->kind = bay__kind_parse(json_string_value(kind));
    json_t *types;
    if ((rc = get(r, item, field, "types", &W_TYPES, false, &types)) || types == NULL)
        return rc;
    bay__types parsed;
    bay_error e;
    if (bay__types_parse(types, p->kind, &parsed, &e) != 0) /* a kind none of the three is refused elsewhere */
        return say(r, BAY_EMANIFEST, "field \"%s.types\": %s", field, e.message);
    bay__types_free(&parsed);
    p->types = json_incref(types);
    return 0;
}

static int timer_item(const report *r, json_t *item, const char *field, void *out)
{
    bay__timer_decl *t = out;
    json_t *interval;
    int rc;
    if ((rc = check(r, field, item, &W_TIMER)) || (rc = known_only(r, item, field, "timer", timer_fields)) ||
        (rc = get_str(r, item, field, "name", &W_NAME, true, &t->name)) ||
        (rc = get(r, item, field, "interval_ms", &W_INTERVAL, true, &interval)) ||
        (rc = get_function(r, item, field, t->name, &t->function)))
        return rc;
    t->interval_ms = json_integer_value(interval);
    return 0;
}

/* unique refuses two items of a list (elements of size bytes whose name, the
 * field name, is a char * at offset) with the same name. */
static int unique(const report *r, const char *key, const char *name, const void *items, size_t n, size_t size,
                  size_t offset)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++) {
            const char *a = *(char *const *)((const char *)items + i * size + offset);
            const char *b = *(char *const *)((const char *)items + j * size + offset);
            if (strcmp(a, b) == 0) {
                char field[FIELD_LEN], got[GOT_LEN], why[FIELD_LEN];
                snprintf(field, sizeof field, "%s[%zu].%s", key, i, name);
                snprintf(why, sizeof why, "%s[%zu] already has it", key, j);
                quote(a, got, sizeof got);
                return explain(r, field, "a name no other item of the list has", got, why);
            }
        }
    return 0;
}

static int get_dependencies(const report *r, json_t *root, bay__manifest *m)
{
    json_t *deps;
    int rc = get(r, root, "", "dependencies", &W_DEPENDENCIES, false, &deps);
    if (rc || !deps)
        return rc;
    if (!(m->deps = calloc(json_object_size(deps) + 1, sizeof *m->deps)))
        return say(r, BAY_ENOMEM, "out of memory");
    for (void *it = json_object_iter(deps); it; it = json_object_iter_next(deps, it)) {
        const char *id = json_object_iter_key(it);
        bay__dep_decl *d = &m->deps[m->ndeps++];
        if (!bay__plugin_id_valid(id)) {
            char got[GOT_LEN];
            quote(id, got, sizeof got);
            return explain(r, "dependencies", "plugin ids like \"example/hello\" as keys", got, NULL);
        }
        if ((rc = copy_str(r, id, &d->id)) || (rc = get_range(r, deps, "dependencies", id, &d->range)))
            return rc;
    }
    return 0;
}

/* get_limits reads the optional "limits" object (0 stands for the broker's default). */
static int get_limits(const report *r, json_t *root, bay__manifest *m)
{
    static const struct {
        const char *key;
        const want *w;
        size_t offset;
        const char *language; /* the only language it applies to, or NULL */
    } fields[] = {
        {"memory_mb", &W_MEMORY, offsetof(bay__limits, memory_mb), NULL},
        {"open_files", &W_FILES, offsetof(bay__limits, open_files), NULL},
        {"cpu_seconds", &W_SECONDS, offsetof(bay__limits, cpu_seconds), NULL},
        {"lua_memory_mb", &W_LUA_MB, offsetof(bay__limits, lua_memory_mb), "lua"},
        {"lua_instructions", &W_LUA_STEPS, offsetof(bay__limits, lua_instructions), "lua"},
        {"python_memory_mb", &W_PYTHON_MB, offsetof(bay__limits, python_memory_mb), "python"},
        {"wasm_memory_pages", &W_WASM_PAGES, offsetof(bay__limits, wasm_memory_pages), "wasm"},
        {"storage_mb", &W_STORAGE_MB, offsetof(bay__limits, storage_mb), NULL},
    };
    json_t *limits, *v;
    int rc = get(r, root, "", "limits", &W_LIMITS, false, &limits);
    if (rc || !limits || (rc = known_only(r, limits, "limits", "limits", limit_fields)))
        return rc;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if ((rc = get(r, limits, "limits", fields[i].key, fields[i].w, false, &v)))
            return rc;
        if (v && fields[i].language && strcmp(fields[i].language, m->language) != 0)
            return say(r, BAY_EMANIFEST, "field \"limits.%s\": only a plugin with \"language\": \"%s\" has it",
                       fields[i].key, fields[i].language);
        *(int64_t *)((char *)&m->limits + fields[i].offset) = v ? json_integer_value(v) : 0;
    }
    return 0;
}

/* moved_limits refuses the configuration keys that were language limits
 * before they became fields of "limits" (config may be NULL). */
static int moved_limits(const report *r, const json_t *config)
{
    static const char *const moved[][2] = {{"lua.memory_mb", "lua_memory_mb"},
                                           {"lua.instructions", "lua_instructions"},
                                           {"python.memory_mb", "python_memory_mb"},
                                           {"wasm.memory_pages", "wasm_memory_pages"}};
    for (size_t i = 0; config && i < sizeof moved / sizeof *moved; i++)
        if (json_object_get(config, moved[i][0]))
            return say(r, BAY_EMANIFEST, "field \"config.%s\" is now \"limits.%s\" (see docs/manifest.md#limits)",
                       moved[i][0], moved[i][1]);
    return 0;
}

/* get_code checks the pairing of "entry" (a program) and "library" (a binding
 * through libffi, whose provides each carry a "signature"). */
static int get_code(const report *r, json_t *root, bay__manifest *m)
{
    int rc = get_str(r, root, "", "entry", &W_ENTRY, m->library == NULL, &m->entry);
    if (rc)
        return rc;
    if (m->library && m->entry)
        return say(r, BAY_EMANIFEST, "fields \"entry\" and \"library\": give one, not both (entry is a plugin "
                                     "program, library a shared library bound through its provides' signatures)");
    if (m->library && strcmp(m->language, "c") != 0)
        return say(r, BAY_EMANIFEST, "field \"library\": only a plugin with \"language\": \"c\" binds a library");
    size_t len = m->entry ? strlen(m->entry) : 0;
    if (strcmp(m->language, "python") == 0 && (len < 4 || strcmp(m->entry + len - 3, ".py") != 0))
        return say(r, BAY_EMANIFEST, "field \"entry\": \"%s\" is not a .py file; a python plugin's entry is its main "
                                     "module, like \"main.py\"", m->entry);
    for (size_t i = 0; i < m->nprovides; i++) {
        bool has = m->provides[i].signature != NULL;
        if (has != (m->library != NULL))
            return say(r, BAY_EMANIFEST, "field \"provides[%zu].signature\": %s", i,
                       has ? "only a plugin with a \"library\" has signatures"
                           : "every provide of a plugin with a \"library\" needs one");
        bay__signature sig;
        bay_error e;
        if (has && bay__signature_parse(m->provides[i].signature, &sig, &e) != 0)
            return say(r, BAY_EMANIFEST, "field \"provides[%zu].signature\": %s; see docs/ffi-bindings.md", i,
                       e.message);
        if (has && m->provides[i].kind == BAY_FILTER && sig.ret.kind != BAY_SIG_VOID && sig.nouts == 0)
            return say(r, BAY_EMANIFEST, "field \"provides[%zu]\": %s would answer every call of the filter \"%s\" "
                       "with its one return value, never with the arguments to pass on: a filter's provider bound "
                       "from a library returns void (it passes the arguments on unchanged) or has out parameters "
                       "(its result is an array); see docs/ffi-bindings.md", i, sig.symbol, m->provides[i].name);
    }
    return 0;
}

/* from_json fills m from the parsed manifest root. */
/* get_id reads the optional "id": the id of the plugin folder it is in, when
 * there is one (m->id), or the plugin's id (a manifest read from a package). */
static int get_id(const report *r, json_t *root, bay__manifest *m)
{
    json_t *v;
    int rc = get(r, root, "", "id", &W_PLUGIN_ID, false, &v);
    if (rc || v == NULL)
        return rc;
    const char *declared = json_string_value(v);
    if (m->id == NULL)
        return copy_str(r, declared, &m->id);
    if (strcmp(declared, m->id) == 0)
        return 0;
    return say(r, BAY_EMANIFEST,
               "field \"id\": \"%s\", but its folder makes it \"%s\": move the folder to %s in the plugins folder, "
               "or change the field",
               declared, m->id, declared);
}

/* get_settings reads the optional "settings": each declaration checked (setting.h). */
static int get_settings(const report *r, json_t *root, bay__manifest *m)
{
    json_t *v;
    char why[400];
    int rc = get(r, root, "", "settings", &W_SETTINGS, false, &v);
    for (void *it = json_object_iter(v); rc == 0 && it; it = json_object_iter_next(v, it))
        if (!bay__setting_declared(json_object_iter_key(it), json_object_iter_value(it), why, sizeof why))
            rc = say(r, BAY_EMANIFEST, "setting \"settings.%s\": %s", json_object_iter_key(it), why);
    if (rc)
        return rc;
    m->settings = v ? json_incref(v) : json_object();
    return m->settings ? 0 : say(r, BAY_ENOMEM, "out of memory");
}

static int panel_item(const report *r, json_t *item, const char *field, void *out)
{
    bay__panel_decl *d = out;
    int rc;
    if ((rc = check(r, field, item, &W_PANEL)) || (rc = known_only(r, item, field, "panel", panel_fields)) ||
        (rc = get_str(r, item, field, "panel", &W_PANEL_NAME, true, &d->panel)) ||
        (rc = get_str(r, item, field, "title", &W_TEXT, true, &d->title)))
        return rc;
    return get_str(r, item, field, "entry", &W_PAGE, true, &d->entry);
}

/* get_ui reads the optional "ui" panels, "messages" and "locale". */
static int get_ui(const report *r, json_t *root, bay__manifest *m)
{
    void *items;
    int rc = get_list(r, root, "", "ui", &W_PANELS, false, sizeof *m->panels, panel_item, &items, &m->npanels);
    m->panels = items;
    if (rc || (rc = unique(r, "ui", "panel", m->panels, m->npanels, sizeof *m->panels, offsetof(bay__panel_decl, panel))) ||
        (rc = get_str(r, root, "", "messages", &W_FOLDER, false, &m->messages)) ||
        (rc = get_str(r, root, "", "locale", &W_LOCALE, false, &m->locale)))
        return rc;
    return m->locale ? 0 : copy_str(r, "en", &m->locale);
}

/* has_panel tells whether m declares a panel named name. */
static bool has_panel(const bay__manifest *m, const char *name)
{
    for (size_t i = 0; i < m->npanels; i++)
        if (strcmp(m->panels[i].panel, name) == 0)
            return true;
    return false;
}

/* translated_texts checks the object field `at`.key of texts (NULL: absent):
 * each key one m declares (declared tells), each value an object of the
 * non-empty strings known names; what names the keys in messages. */
static int translated_texts(const report *r, const bay__manifest *m, json_t *texts, const char *at, const char *key,
                            bool (*declared)(const bay__manifest *m, const char *name), const char *what,
                            const char *const *known)
{
    char field[FIELD_LEN / 2], item[FIELD_LEN - 32];
    json_t *obj, *v;
    int rc = get(r, texts, at, key, &W_OBJECT, false, &obj);
    name_field(field, sizeof field, at, key);
    for (void *it = json_object_iter(obj); rc == 0 && it; it = json_object_iter_next(obj, it)) {
        const char *name = json_object_iter_key(it);
        json_t *val = json_object_iter_value(it);
        snprintf(item, sizeof item, "%.100s.%.64s", field, name);
        if (!declared(m, name))
            return say(r, BAY_EMANIFEST, "field \"%s\": the manifest declares no %s \"%.64s\" to translate", item,
                       what, name);
        if ((rc = check(r, item, val, &W_OBJECT)) || (rc = known_only(r, val, item, what, known)))
            return rc;
        for (size_t i = 0; rc == 0 && known[i]; i++)
            rc = get(r, val, item, known[i], &W_TEXT, false, &v);
    }
    return rc;
}

static bool has_setting(const bay__manifest *m, const char *name) { return json_object_get(m->settings, name) != NULL; }

/* get_translations reads the optional "translations": texts by locale, each
 * naming only settings and panels the manifest declares. */
static int get_translations(const report *r, json_t *root, bay__manifest *m)
{
    static const char *const texts[] = {"name", "brief", "description"};
    char at[32]; /* "translations." and a locale */
    json_t *all, *v;
    int rc = get(r, root, "", "translations", &W_TRANSLATIONS, false, &all);
    for (void *it = json_object_iter(all); rc == 0 && it; it = json_object_iter_next(all, it)) {
        const char *locale = json_object_iter_key(it);
        json_t *t = json_object_iter_value(it);
        if (!bay__locale_valid(locale)) {
            char got[GOT_LEN];
            quote(locale, got, sizeof got);
            return explain(r, "translations", "locales like \"fr\" or \"pt_BR\" as keys", got, NULL);
        }
        snprintf(at, sizeof at, "translations.%s", locale);
        if ((rc = check(r, at, t, &W_TRANSLATION)) || (rc = known_only(r, t, at, "translation", translation_fields)))
            return rc;
        for (size_t i = 0; rc == 0 && i < sizeof texts / sizeof *texts; i++)
            rc = get(r, t, at, texts[i], i == 0 ? &W_TEXT : &W_STRING, false, &v);
        if (rc || (rc = translated_texts(r, m, t, at, "settings", has_setting, "setting", setting_text_fields)) ||
            (rc = translated_texts(r, m, t, at, "ui", has_panel, "panel", panel_text_fields)))
            return rc;
    }
    if (rc)
        return rc;
    m->translations = all ? json_incref(all) : json_object();
    return m->translations ? 0 : say(r, BAY_ENOMEM, "out of memory");
}

static int from_json(const report *r, json_t *root, bay__manifest *m)
{
    char got[GOT_LEN];
    json_t *v;
    void *items;
    int rc;
    if (!json_is_object(root)) {
        describe(root, got, sizeof got);
        return say(r, BAY_EMANIFEST, "expected a JSON object like {\"name\": \"hello\", ...}, got %s", got);
    }
    if ((rc = known_only(r, root, "", "manifest", manifest_fields)))
        return rc;
    for (size_t i = 0; i < sizeof string_fields / sizeof *string_fields; i++)
        if ((rc = get_str(r, root, "", string_fields[i].key, string_fields[i].w, string_fields[i].required,
                          (char **)((char *)m + string_fields[i].offset))))
            return rc;
    bay__semver_parse(m->version, &m->ver); /* W_SEMVER accepted it */
    if ((rc = get_id(r, root, m)))
        return rc;
    if ((rc = get_range(r, root, "", "host", &m->host)) || (rc = get(r, root, "", "order", &W_ORDER, false, &v)))
        return rc;
    m->order = v ? (int)json_integer_value(v) : 0;
    if ((rc = get(r, root, "", "replicas", &W_REPLICAS, false, &v)))
        return rc;
    m->replicas = v ? (int)json_integer_value(v) : 1;

    rc = get_list(r, root, "", "provides", &W_PROVIDES, true, sizeof *m->provides, provide_item, &items,
                  &m->nprovides);
    m->provides = items;
    if (rc || (rc = unique(r, "provides", "name", m->provides, m->nprovides, sizeof *m->provides,
                           offsetof(bay__provide_decl, name))))
        return rc;
    rc = get_list(r, root, "", "timers", &W_TIMERS, false, sizeof *m->timers, timer_item, &items, &m->ntimers);
    m->timers = items;
    if (rc || (rc = unique(r, "timers", "name", m->timers, m->ntimers, sizeof *m->timers, offsetof(bay__timer_decl, name))))
        return rc;
    if ((rc = get_code(r, root, m)) || (rc = get_limits(r, root, m)) || (rc = get_dependencies(r, root, m)) ||
        (rc = get_strv(r, root, "", "permissions", &W_PERMISSIONS, &m->permissions, &m->npermissions)) ||
        (rc = get(r, root, "", "config", &W_CONFIG, false, &v)) || (rc = moved_limits(r, v)))
        return rc;
    m->config = v ? json_incref(v) : json_object();
    if (m->config == NULL)
        return say(r, BAY_ENOMEM, "out of memory");
    if ((rc = get_settings(r, root, m)) || (rc = get_ui(r, root, m)))
        return rc;
    return get_translations(r, root, m);
}

/* build turns the result of a jansson load into a manifest, taking root. */
static int build(const report *r, json_t *root, const json_error_t *je, const char *path, const char *dir,
                 const char *id, bay__manifest **out)
{
    bay__manifest *m;
    int rc;
    *out = NULL;
    if (!root)
        return say(r, BAY_EMANIFEST, "line %d column %d: %s", je->line, je->column, je->text);
    if (!(m = calloc(1, sizeof *m)))
        rc = say(r, BAY_ENOMEM, "out of memory");
    else if (!(rc = copy_str(r, path, &m->path)) && !(rc = copy_str(r, dir, &m->dir)) && !(rc = copy_str(r, id, &m->id)))
        rc = from_json(r, root, m);
    if (rc == 0)
        m->doc = json_incref(root);
    json_decref(root);
    if (rc)
        bay__manifest_free(m);
    else
        *out = m;
    return rc;
}

int bay__manifest_parse(const char *text, const char *path, const char *dir, const char *id, bay__manifest **out,
                       bay_error *err)
{
    report r = {path ? path : "plugin.json", id, err};
    json_error_t je;
    if (!text || !out)
        return say(&r, BAY_EINVAL, "no manifest text");
    return build(&r, json_loads(text, JSON_REJECT_DUPLICATES, &je), &je, path, dir, id, out);
}

/* resolve follows rel inside the folder root (a real path) to real: 0 when
 * it leads inside root, EXDEV when outside, else realpath's errno value. */
static int resolve(const char *root, const char *rel, char real[PATH_MAX])
{
    char path[PATH_MAX];
    size_t n = strlen(root);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, rel) >= sizeof path)
        return ENAMETOOLONG;
    if (realpath(path, real) == NULL)
        return errno;
    return strncmp(real, root, n) == 0 && real[n] == '/' ? 0 : EXDEV;
}

/* code_inside checks that the code file m names (its entry, or a library given
 * as a path), once symbolic links are followed, is still inside the plugin
 * folder m->dir (a real path). The worker's sandbox lets a plugin read only its
 * own folder; a link its author made must not widen that, so a code file that
 * leads outside is refused here, where the message can say why
 * (docs/manifest.md, "Symbolic links"). A missing file is the worker's to report. */
static int code_inside(const report *r, const bay__manifest *m)
{
    const char *field = m->entry ? "entry" : "library", *rel = m->entry ? m->entry : m->library;
    char real[PATH_MAX];
    if (strchr(rel, '/') == NULL && m->entry == NULL) /* a soname: the system's library */
        return 0;
    if (resolve(m->dir, rel, real) != EXDEV)
        return 0;
    return say(r, BAY_EMANIFEST,
               "field \"%s\": %s leads through a symbolic link to %s, outside the plugin folder, which the sandbox "
               "would not let the plugin read; copy the file into the folder, or move the whole plugin folder into "
               "the plugins folder instead", field, rel, real);
}

/* ui_file_inside checks that rel (field's value) is a regular file (a folder
 * when folder is true) inside the plugin folder root (a real path) once links
 * are followed: the console serves a panel's files and plugbayd reads the
 * catalogues from there. */
static int ui_file_inside(const report *r, const char *root, const char *field, const char *rel, bool folder)
{
    char real[PATH_MAX];
    struct stat st;
    int e = resolve(root, rel, real);
    if (e == EXDEV)
        return say(r, BAY_EMANIFEST, "field \"%s\": %s leads through a symbolic link to %s, outside the plugin "
                   "folder; copy the files into the folder", field, rel, real);
    if (e)
        return say(r, BAY_EMANIFEST, "field \"%s\": %s: %s", field, rel,
                   e == ENOENT ? "no such file in the plugin folder" : strerror(e));
    if (stat(real, &st) != 0 || (folder ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
        return say(r, BAY_EMANIFEST, "field \"%s\": %s is not a %s", field, rel, folder ? "folder" : "regular file");
    return 0;
}

/* ui_inside checks m's panels' entries and its "messages" folder (ui_file_inside). */
static int ui_inside(const report *r, const bay__manifest *m)
{
    char root[PATH_MAX], field[32];
    int rc = 0;
    if (m->npanels == 0 && m->messages == NULL)
        return 0;
    if (realpath(m->dir, root) == NULL)
        return say(r, BAY_EIO, "%s: %s", m->dir, strerror(errno));
    for (size_t i = 0; rc == 0 && i < m->npanels; i++) {
        snprintf(field, sizeof field, "ui[%zu].entry", i);
        rc = ui_file_inside(r, root, field, m->panels[i].entry, false);
    }
    return rc || m->messages == NULL ? rc : ui_file_inside(r, root, "messages", m->messages, true);
}

/* open_manifest opens r->path for reading: a regular file of at most
 * BAY_MANIFEST_MAX bytes. Opened without blocking, so that a FIFO put in its
 * place after the scan cannot stop plugbayd's thread. */
static int open_manifest(const report *r, FILE **out)
{
    struct stat st;
    int fd = open(r->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return say(r, BAY_EIO, "%s", strerror(errno));
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return say(r, BAY_EIO, "not a regular file");
    }
    if (st.st_size > BAY_MANIFEST_MAX) {
        close(fd);
        return say(r, BAY_EMANIFEST, "%lld bytes, more than a manifest may have (%d)", (long long)st.st_size,
                   BAY_MANIFEST_MAX);
    }
    if (!(*out = fdopen(fd, "r"))) {
        close(fd);
        return say(r, BAY_ENOMEM, "out of memory");
    }
    return 0;
}

/* where_it_leads refuses the folder of plugin id when a symbolic link below
 * plugins_dir leads it to abs_dir, elsewhere (as the scan refuses links, so
 * that one swapped in after the scan changes nothing). */
static int where_it_leads(const report *r, const char *plugins_dir, const char *id, const char *abs_dir)
{
    char root[PATH_MAX];
    size_t n;
    if (!realpath(plugins_dir, root))
        return say(r, BAY_EIO, "%s", strerror(errno));
    n = strlen(root);
    if (strncmp(abs_dir, root, n) == 0 && abs_dir[n] == '/' && strcmp(abs_dir + n + 1, id) == 0)
        return 0;
    return say(r, BAY_EMANIFEST, "its folder leads through a symbolic link to %s: plugbayd follows no link in the "
                                 "plugins folder; move or copy the folder itself into the plugins folder", abs_dir);
}

int bay__manifest_read(const char *dir, const char *where, bay__manifest **m, bay_error *err)
{
    char *text = NULL, path[PATH_MAX + 32];
    size_t len;
    struct stat st;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = fd < 0 ? errno : bay__file_read_small(fd, "plugin.json", O_NOFOLLOW, BAY_MANIFEST_MAX, &text, &len, &st);
    if (fd >= 0)
        close(fd);
    *m = NULL;
    if (e == ENOENT)
        return bay_error_set(err, BAY_EMANIFEST, NULL, "%s: no plugin.json at the top: not a plugin folder", where);
    if (e == ELOOP || e == EINVAL)
        return bay_error_set(err, BAY_EMANIFEST, NULL, "%s: plugin.json is not a regular file", where);
    if (e)
        return bay_error_set(err, e == ENOMEM ? BAY_ENOMEM : BAY_EIO, NULL, "%s: cannot read plugin.json: %s", where,
                             e == EFBIG ? "larger than any manifest" : strerror(e));
    snprintf(path, sizeof path, "%s: plugin.json", where);
    int rc = bay__manifest_parse(text, path, dir, NULL, m, err);
    free(text);
    report r = {path, NULL, err};
    if (rc == 0 && (rc = ui_inside(&r, *m)) != 0) {
        bay__manifest_free(*m);
        *m = NULL;
    }
    return rc;
}

int bay__manifest_load(const char *plugins_dir, const char *id, bay__manifest **out, bay_error *err)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], *abs_dir, *abs_file;
    report r = {plugins_dir, NULL, err};
    json_error_t je;
    json_t *root;
    FILE *f;
    int rc;
    if (!plugins_dir || !out)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay__manifest_load: plugins_dir or out is NULL");
    if (!bay__plugin_id_valid(id))
        return say(&r, BAY_EINVAL, "\"%s\" is not a plugin id (folder names of letters, digits, \"_\", \".\" "
                                   "and \"-\", separated by \"/\")", id ? id : "(null)");
    r.id = id;
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", plugins_dir, id) >= sizeof dir)
        return say(&r, BAY_EINVAL, "the path of plugin %s is too long", id);
    snprintf(file, sizeof file, "%s/plugin.json", dir);
    r.path = file;
    if ((rc = open_manifest(&r, &f)) != 0)
        return rc;
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!(abs_dir = realpath(dir, NULL))) {
        rc = say(&r, BAY_EIO, "%s", strerror(errno));
        json_decref(root);
        return rc;
    }
    if ((rc = where_it_leads(&r, plugins_dir, id, abs_dir)) != 0) {
        free(abs_dir);
        json_decref(root);
        return rc;
    }
    if ((abs_file = malloc(strlen(abs_dir) + sizeof "/plugin.json"))) {
        sprintf(abs_file, "%s/plugin.json", abs_dir);
        rc = build(&r, root, &je, abs_file, abs_dir, id, out);
        if (rc == 0 && ((rc = code_inside(&r, *out)) != 0 || (rc = ui_inside(&r, *out)) != 0)) {
            bay__manifest_free(*out);
            *out = NULL;
        }
    } else {
        rc = say(&r, BAY_ENOMEM, "out of memory");
        json_decref(root);
    }
    free(abs_file);
    free(abs_dir);
    return rc;
}

size_t bay__strv_len(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

bool bay__strv_has(const char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

char **bay__strv_copy(const char *const *v)
{
    size_t n = bay__strv_len(v);
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            bay__strv_free(c);
            return NULL;
        }
    return c;
}

void bay__strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

void bay__manifest_free(bay__manifest *m)
{
    if (!m)
        return;
    char *strings[] = {m->id, m->dir, m->path, m->name, m->brief, m->description, m->author, m->site,
                       m->email, m->license, m->version, m->language, m->entry, m->library, m->host,
                       m->messages, m->locale};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        free(strings[i]);
    for (size_t i = 0; i < m->nprovides; i++) {
        free(m->provides[i].name);
        free(m->provides[i].function);
        free(m->provides[i].signature);
        json_decref(m->provides[i].types);
        bay__strv_free(m->provides[i].contexts);
    }
    for (size_t i = 0; i < m->ndeps; i++) {
        free(m->deps[i].id);
        free(m->deps[i].range);
    }
    for (size_t i = 0; i < m->ntimers; i++) {
        free(m->timers[i].name);
        free(m->timers[i].function);
    }
    for (size_t i = 0; i < m->npanels; i++) {
        free(m->panels[i].panel);
        free(m->panels[i].title);
        free(m->panels[i].entry);
    }
    free(m->panels);
    json_decref(m->translations);
    free(m->provides);
    free(m->deps);
    free(m->timers);
    bay__strv_free(m->permissions);
    json_decref(m->config);
    json_decref(m->settings);
    json_decref(m->doc);
    free(m);
}

/* ---- scanning ----------------------------------------------------------------- */

/* A growing NULL-terminated list of ids. */
typedef struct idlist {
    char **v;
    size_t n, cap;
} idlist;

static int push(const report *r, idlist *l, const char *id)
{
    if (l->n + 1 >= l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return say(r, BAY_ENOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(id)))
        return say(r, BAY_ENOMEM, "out of memory");
    l->v[++l->n] = NULL;
    return 0;
}

/* refuse tells hooks (when they listen) that the entry rel of the plugins
 * folder is passed over, and why (a line saying what to do). */
static void refuse(const bay__scan_hooks *hooks, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(const bay__scan_hooks *hooks, const char *rel, const char *fmt, ...)
{
    char why[PATH_MAX + 256];
    va_list ap;
    if (!hooks || !hooks->refused)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    hooks->refused(rel, why, hooks->arg);
}

/* entry_kind looks at the entry id (a folder path below root, named in the
 * folder being read) without following a link: 1 for a real folder, 0 for
 * anything else that is not refused (a file), -1 when refused (told to hooks). */
static int entry_kind(const bay__scan_hooks *hooks, const char *root, const char *id, bool id_ok)
{
    char path[PATH_MAX], target[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", root, id) >= sizeof path || lstat(path, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        refuse(hooks, id, "a symbolic link (to %s): plugbayd follows no link in the plugins folder; move or copy "
                          "the folder itself into the plugins folder", target);
        return -1;
    }
    if (S_ISDIR(st.st_mode) && !id_ok) {
        refuse(hooks, id, "not a plugin id: folder names are letters, digits, \"_\", \".\" and \"-\", an id at "
                          "most %d characters; rename the folder", BAY_PLUGIN_ID_MAX);
        return -1;
    }
    return S_ISDIR(st.st_mode) ? 1 : 0;
}

/* scan lists the plugins in root/rel (rel is "" for root itself, depth 1),
 * telling hooks of each folder it reads and each plugin folder it finds. */
static int scan(const report *r, const bay__scan_hooks *hooks, const char *root, const char *rel, int depth,
                idlist *ids)
{
    char path[PATH_MAX];
    struct dirent *e;
    DIR *d;
    int rc = 0;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (hooks && hooks->folder)
        hooks->folder(path, false, hooks->arg); /* before reading it: what changes after is seen */
    if (!(d = opendir(path)))
        return *rel ? say(r, BAY_EIO, "cannot read folder \"%s\": %s", rel, strerror(errno))
                    : say(r, BAY_EIO, "cannot read the plugins folder: %s", strerror(errno));
    while (!rc && (e = readdir(d))) {
        char id[PATH_MAX], sub[PATH_MAX + 16];
        struct stat st;
        if (e->d_name[0] == '.')
            continue; /* ".", "..", hidden (".git", an editor's temporary folder) */
        snprintf(id, sizeof id, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (entry_kind(hooks, root, id, bay__plugin_id_valid(id)) != 1)
            continue;
        snprintf(sub, sizeof sub, "%s/%s/plugin.json", root, id);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
            *strrchr(sub, '/') = '\0';
            if (hooks && hooks->folder)
                hooks->folder(sub, true, hooks->arg);
            rc = push(r, ids, id);
        } else if (depth < SCAN_DEPTH) {
            rc = scan(r, hooks, root, id, depth + 1, ids);
        }
    }
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int bay__manifest_scan(const char *plugins_dir, char ***ids, const bay__scan_hooks *hooks, bay_error *err)
{
    report r = {plugins_dir, NULL, err};
    idlist l = {0};
    int rc;
    if (!plugins_dir || !ids)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay__manifest_scan: plugins_dir or ids is NULL");
    *ids = NULL;
    if (!(rc = scan(&r, hooks, plugins_dir, "", 1, &l)) && !l.v && !(l.v = calloc(1, sizeof *l.v)))
        rc = say(&r, BAY_ENOMEM, "out of memory");
    if (rc) {
        bay__strv_free(l.v);
        return rc;
    }
    qsort(l.v, l.n, sizeof *l.v, by_name);
    *ids = l.v;
    return 0;
}
