/* bridges/wasm/module.c — a bounds-checked reader of the WebAssembly sections the plugin ABI is about, and the ABI check itself. */
#include "module.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/error.h>

enum { SEC_TYPE = 1, SEC_IMPORT = 2, SEC_FUNCTION = 3, SEC_TABLE = 4, SEC_MEMORY = 5, SEC_EXPORT = 7, SEC_LAST = 12 };
enum { KIND_FUNC = 0, KIND_TABLE = 1, KIND_MEMORY = 2, KIND_GLOBAL = 3, KIND_TAG = 4 };

/* The functions offered to a module: its plugbay.* functions (imports.c)
 * and WASI preview 1 (wasi.c), each with its type, 'i' for i32 and 'I' for
 * i64, and for plugbay.* the signature in words. */
#define WASI "wasi_snapshot_preview1"
static const struct offered {
    const char *module, *name, *params, *results, *signature;
} offered[] = {
    {"plugbay", "log", "iii", "", "(i32 level, i32 msg, i32 msg_len) -> nil"},
    {"plugbay", "config", "ii", "i", "(i32 buf, i32 buf_len) -> i32"},
    {"plugbay", "call", "iiiii", "i", "(i32 name, i32 name_len, i32 args, i32 args_len, i32 timeout_ms) -> i32"},
    {"plugbay", "reply", "ii", "i", "(i32 buf, i32 buf_len) -> i32"},
    {"plugbay", "result", "ii", "i", "(i32 value, i32 value_len) -> i32"},
    {"plugbay", "emit", "ii", "i", "(i32 chunk, i32 chunk_len) -> i32"},
    {"plugbay", "receive", "", "i", "() -> i32"},
    {"plugbay", "error", "ii", "", "(i32 msg, i32 msg_len) -> nil"},
    {"plugbay", "settings", "ii", "i", "(i32 buf, i32 buf_len) -> i32"},
    {"plugbay", "store_get", "ii", "i", "(i32 key, i32 key_len) -> i32"},
    {"plugbay", "store_put", "iiii", "i", "(i32 key, i32 key_len, i32 value, i32 value_len) -> i32"},
    {"plugbay", "store_delete", "ii", "i", "(i32 key, i32 key_len) -> i32"},
    {"plugbay", "store_keys", "ii", "i", "(i32 prefix, i32 prefix_len) -> i32"},
    {"plugbay", "store_sql", "iiii", "i", "(i32 sql, i32 sql_len, i32 params, i32 params_len) -> i32"},
    {"plugbay", "timer_set", "iiiii", "i", "(i32 name, i32 name_len, i32 interval_ms, i32 function, i32 function_len) -> i32"},
    {"plugbay", "timer_remove", "ii", "i", "(i32 name, i32 name_len) -> i32"},
    {"plugbay", "timer_list", "", "i", "() -> i32"},
    {"plugbay", "plugins_list", "", "i", "() -> i32"},
    {"plugbay", "plugins_manage", "iiii", "i", "(i32 what, i32 what_len, i32 id, i32 id_len) -> i32"},
    {WASI, "args_get", "ii", "i", NULL},
    {WASI, "args_sizes_get", "ii", "i", NULL},
    {WASI, "clock_res_get", "ii", "i", NULL},
    {WASI, "clock_time_get", "iIi", "i", NULL},
    {WASI, "environ_get", "ii", "i", NULL},
    {WASI, "environ_sizes_get", "ii", "i", NULL},
    {WASI, "fd_advise", "iIIi", "i", NULL},
    {WASI, "fd_allocate", "iII", "i", NULL},
    {WASI, "fd_close", "i", "i", NULL},
    {WASI, "fd_datasync", "i", "i", NULL},
    {WASI, "fd_fdstat_get", "ii", "i", NULL},
    {WASI, "fd_fdstat_set_flags", "ii", "i", NULL},
    {WASI, "fd_fdstat_set_rights", "iII", "i", NULL},
    {WASI, "fd_filestat_get", "ii", "i", NULL},
    {WASI, "fd_filestat_set_size", "iI", "i", NULL},
    {WASI, "fd_filestat_set_times", "iIIi", "i", NULL},
    {WASI, "fd_pread", "iiiIi", "i", NULL},
    {WASI, "fd_prestat_dir_name", "iii", "i", NULL},
    {WASI, "fd_prestat_get", "ii", "i", NULL},
    {WASI, "fd_pwrite", "iiiIi", "i", NULL},
    {WASI, "fd_read", "iiii", "i", NULL},
    {WASI, "fd_readdir", "iiiIi", "i", NULL},
    {WASI, "fd_renumber", "ii", "i", NULL},
    {WASI, "fd_seek", "iIii", "i", NULL},
    {WASI, "fd_sync", "i", "i", NULL},
    {WASI, "fd_tell", "ii", "i", NULL},
    {WASI, "fd_write", "iiii", "i", NULL},
    {WASI, "path_create_directory", "iii", "i", NULL},
    {WASI, "path_filestat_get", "iiiii", "i", NULL},
    {WASI, "path_filestat_set_times", "iiiiIIi", "i", NULL},
    {WASI, "path_link", "iiiiiii", "i", NULL},
    {WASI, "path_open", "iiiiiIIii", "i", NULL},
    {WASI, "path_readlink", "iiiiii", "i", NULL},
    {WASI, "path_remove_directory", "iii", "i", NULL},
    {WASI, "path_rename", "iiiiii", "i", NULL},
    {WASI, "path_symlink", "iiiii", "i", NULL},
    {WASI, "path_unlink_file", "iii", "i", NULL},
    {WASI, "poll_oneoff", "iiii", "i", NULL},
    {WASI, "proc_exit", "i", "", NULL},
    {WASI, "random_get", "ii", "i", NULL},
    {WASI, "sched_yield", "", "i", NULL},
    {WASI, "sock_accept", "iii", "i", NULL},
    {WASI, "sock_recv", "iiiiii", "i", NULL},
    {WASI, "sock_send", "iiiii", "i", NULL},
    {WASI, "sock_shutdown", "ii", "i", NULL},
};
#define NOFFERED (sizeof offered / sizeof offered[0])

const char *const bay__wasm_hooks[] = {"on_install", "on_update", "on_uninstall", "on_settings", NULL};

/* Bytes inside the module: a name, or a vector of value types. */
typedef struct span {
    const uint8_t *p;
    uint32_t len;
} span;

typedef struct functype {
    span params, results;
} functype;

typedef struct import {
    span module, name;
    uint8_t kind;
    uint32_t type; /* a function's type index */
} import;

typedef struct export {
    span name;
    uint8_t kind;
    uint32_t index;
} export;

/* What the reader keeps of a module; the arrays are malloc'ed. */
typedef struct module {
    functype *types;
    uint32_t ntypes;
    import *imports;
    uint32_t nimports;
    uint32_t *func_types; /* type index of every function, imported ones first */
    uint32_t nfuncs;
    export *exports;
    uint32_t nexports;
    uint32_t nmemories, memories_imported, min_pages, max_pages;
    uint32_t largest_table;
} module;

/* A cursor over part of the module; the first failure is kept in err. */
typedef struct reader {
    const uint8_t *base, *p, *end;
    const char *scope; /* what end is the end of: "the module", "section 2" */
    bay_error *err;
} reader;

static bool fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fail fills r's err with BAY_EPLUGIN, the byte it got to and the message, and returns false. */
static bool fail(reader *r, const char *fmt, ...)
{
    char text[sizeof r->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bay_error_set(r->err, BAY_EPLUGIN, NULL, "not a valid WebAssembly module: byte 0x%zx: %s",
                  (size_t)(r->p - r->base), text);
    return false;
}

static bool byte(reader *r, uint8_t *out, const char *what)
{
    *out = 0;
    if (r->p >= r->end)
        return fail(r, "the module ends inside %s", what);
    *out = *r->p++;
    return true;
}

/* u32 reads an unsigned LEB128 integer of at most 32 bits. */
static bool u32(reader *r, uint32_t *out, const char *what)
{
    const uint8_t *start = r->p;
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        uint8_t b;
        if (!byte(r, &b, what))
            return false;
        if (shift == 28 && (b & 0xf0)) {
            r->p = start;
            return fail(r, "%s does not fit in 32 bits", what);
        }
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false; /* not reached: the fifth byte either ends the number or fails above */
}

static bool bytes(reader *r, uint32_t n, span *out, const char *what)
{
    if ((size_t)(r->end - r->p) < n)
        return fail(r, "%s of %u bytes runs past the end of %s (%zu byte%s left)", what, n, r->scope,
                    (size_t)(r->end - r->p), r->end - r->p == 1 ? "" : "s");
    *out = (span){r->p, n};
    r->p += n;
    return true;
}

/* vec reads a length-prefixed byte string (a name or a list of value types). */
static bool vec(reader *r, span *out, const char *what)
{
    uint32_t n;
    return u32(r, &n, what) && bytes(r, n, out, what);
}

/* entries reads a vector: how many entries follow, then each with
 * entry(r, m, i). When array is not NULL it first allocates an array of that
 * many items of size bytes (each entry takes at least one byte, so a count
 * larger than what is left is refused before anything is allocated). */
static bool entries(reader *r, module *m, const char *what, uint32_t *n, void **array, size_t size,
                    bool (*entry)(reader *r, module *m, uint32_t i))
{
    uint32_t count;
    n = n ? n : &count;
    if (!u32(r, n, what))
        return false;
    if (*n > (size_t)(r->end - r->p))
        return fail(r, "%u %s cannot fit in the %zu bytes left of %s", *n, what, (size_t)(r->end - r->p), r->scope);
    if (array && (*array = calloc(*n ? *n : 1, size)) == NULL)
        return fail(r, "out of memory for %u %s", *n, what);
    for (uint32_t i = 0; i < *n; i++)
        if (!entry(r, m, i))
            return false;
    return true;
}

/* limits reads a memory's or table's limits (minimum, optional maximum). */
static bool limits(reader *r, uint32_t *min, uint32_t *max, const char *what)
{
    uint8_t flags;
    *max = UINT32_MAX;
    if (!byte(r, &flags, what))
        return false;
    if (flags > 1)
        return fail(r, "%s limits flag 0x%02x: shared and 64-bit memories are not supported", what, flags);
    return u32(r, min, what) && (flags == 0 || u32(r, max, what));
}

static bool type_entry(reader *r, module *m, uint32_t i)
{
    uint8_t form;
    if (!byte(r, &form, "a type"))
        return false;
    if (form != 0x60)
        return fail(r, "type %u has form 0x%02x, not a function type (0x60)", i, form);
    return vec(r, &m->types[i].params, "parameter types") && vec(r, &m->types[i].results, "result types");
}

static bool add_func(reader *r, module *m, uint32_t type)
{
    uint32_t *grown = realloc(m->func_types, (m->nfuncs + 1) * sizeof *grown);
    if (grown == NULL)
        return fail(r, "out of memory");
    m->func_types = grown;
    m->func_types[m->nfuncs++] = type;
    return true;
}

static bool import_entry(reader *r, module *m, uint32_t i)
{
    import *im = &m->imports[i];
    uint32_t min, max, type;
    uint8_t b;
    if (!vec(r, &im->module, "an import's module name") || !vec(r, &im->name, "an import's name") ||
        !byte(r, &im->kind, "an import"))
        return false;
    switch (im->kind) {
    case KIND_FUNC:
        return u32(r, &im->type, "an imported function's type") && add_func(r, m, im->type);
    case KIND_TABLE:
        return byte(r, &b, "an imported table") && limits(r, &min, &max, "an imported table");
    case KIND_MEMORY:
        m->nmemories++;
        m->memories_imported++;
        return limits(r, &min, &max, "an imported memory");
    case KIND_GLOBAL:
        return byte(r, &b, "an imported global") && byte(r, &b, "an imported global");
    case KIND_TAG:
        return byte(r, &b, "an imported tag") && u32(r, &type, "an imported tag");
    default:
        return fail(r, "import %u has unknown kind 0x%02x", i, im->kind);
    }
}

static bool function_entry(reader *r, module *m, uint32_t i)
{
    uint32_t type;
    return u32(r, &type, "a function's type") && add_func(r, m, type);
}

static bool table_entry(reader *r, module *m, uint32_t i)
{
    uint8_t type;
    uint32_t min, max;
    if (!byte(r, &type, "a table") || !limits(r, &min, &max, "a table"))
        return false;
    if (min > m->largest_table)
        m->largest_table = min;
    return true;
}

static bool memory_entry(reader *r, module *m, uint32_t i)
{
    uint32_t min, max;
    if (!limits(r, &min, &max, "a memory"))
        return false;
    if (m->nmemories++ == 0) {
        m->min_pages = min;
        m->max_pages = max;
    }
    return true;
}

static bool export_entry(reader *r, module *m, uint32_t i)
{
    export *e = &m->exports[i];
    return vec(r, &e->name, "an export's name") && byte(r, &e->kind, "an export") &&
           u32(r, &e->index, "an export's index");
}

/* read_section reads the body of section id (other sections are skipped). */
static bool read_section(reader *r, module *m, uint8_t id)
{
    switch (id) {
    case SEC_TYPE:
        return entries(r, m, "types", &m->ntypes, (void **)&m->types, sizeof *m->types, type_entry);
    case SEC_IMPORT:
        return entries(r, m, "imports", &m->nimports, (void **)&m->imports, sizeof *m->imports, import_entry);
    case SEC_FUNCTION:
        return entries(r, m, "functions", NULL, NULL, 0, function_entry);
    case SEC_TABLE:
        return entries(r, m, "tables", NULL, NULL, 0, table_entry);
    case SEC_MEMORY:
        return entries(r, m, "memories", NULL, NULL, 0, memory_entry);
    case SEC_EXPORT:
        return entries(r, m, "exports", &m->nexports, (void **)&m->exports, sizeof *m->exports, export_entry);
    default:
        r->p = r->end;
        return true;
    }
}

static bool read_module(reader *r, module *m)
{
    static const uint8_t magic[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    if ((size_t)(r->end - r->p) < sizeof magic || memcmp(r->p, magic, 4) != 0)
        return fail(r, "it does not start with the WebAssembly magic bytes \\0asm");
    if (memcmp(r->p + 4, magic + 4, 4) != 0)
        return fail(r, "binary format version %u, but only version 1 exists", r->p[4] | r->p[5] << 8);
    r->p += sizeof magic;
    uint32_t seen = 0;
    while (r->p < r->end) {
        uint8_t id;
        uint32_t size;
        span body = {NULL, 0};
        char scope[16];
        if (!byte(r, &id, "a section id"))
            return false;
        snprintf(scope, sizeof scope, "section %u", id);
        if (!u32(r, &size, scope) || !bytes(r, size, &body, scope))
            return false;
        if (id > SEC_LAST)
            return fail(r, "unknown section id %u", id);
        if (id != 0 && (seen & 1u << id))
            return fail(r, "section %u appears twice", id);
        seen |= 1u << id;
        reader s = {r->base, body.p, body.p + body.len, scope, r->err};
        if (!read_section(&s, m, id))
            return false;
        if (s.p != s.end)
            return fail(&s, "section %u has %zu bytes left over after its last entry", id, (size_t)(s.end - s.p));
    }
    return true;
}

/* ---- the ABI check ---- */

/* show copies a name from the module into buf as printable text. */
static const char *show(span s, char *buf, size_t size)
{
    size_t n = 0;
    for (uint32_t i = 0; i < s.len && n + 4 < size; i++)
        buf[n++] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
    if (n < s.len && n + 4 <= size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static bool span_is(span s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

static const char *value_type_name(uint8_t t)
{
    switch (t) {
    case 0x7f: return "i32";
    case 0x7e: return "i64";
    case 0x7d: return "f32";
    case 0x7c: return "f64";
    case 0x7b: return "v128";
    case 0x70: return "funcref";
    case 0x6f: return "externref";
    default: return "?";
    }
}

/* list_types writes a vector of value types as "i32, f64" into buf. */
static const char *list_types(span v, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < v.len && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", value_type_name(v.p[i]));
    return buf;
}

/* show_type writes a function type as "(i32, i32) -> i32" into buf. */
static const char *show_type(const functype *t, char *buf, size_t size)
{
    char params[64], results[64];
    list_types(t->params, params, sizeof params);
    list_types(t->results, results, sizeof results);
    snprintf(buf, size, "(%s) -> %s%s%s", params, t->results.len > 1 ? "(" : "", t->results.len ? results : "nil",
             t->results.len > 1 ? ")" : "");
    return buf;
}

/* has_type tells whether t is the function type params -> results ('i' = i32, 'I' = i64). */
static bool has_type(const functype *t, const char *params, const char *results)
{
    const span *lists[2] = {&t->params, &t->results};
    const char *want[2] = {params, results};
    for (int l = 0; l < 2; l++) {
        if (lists[l]->len != strlen(want[l]))
            return false;
        for (uint32_t i = 0; i < lists[l]->len; i++)
            if (lists[l]->p[i] != (want[l][i] == 'I' ? 0x7e : 0x7f))
                return false;
    }
    return true;
}

/* func_type returns the type of function index i, or NULL (with BAY_EPLUGIN and
 * the reason in err) when either index is out of range. */
static const functype *func_type(const module *m, uint32_t i, bay_error *err)
{
    if (i >= m->nfuncs) {
        bay_error_set(err, BAY_EPLUGIN, NULL,
                      "not a valid WebAssembly module: function index %u is out of range (%u functions)", i,
                      m->nfuncs);
        return NULL;
    }
    if (m->func_types[i] >= m->ntypes) {
        bay_error_set(err, BAY_EPLUGIN, NULL,
                      "not a valid WebAssembly module: function %u has type index %u, out of range (%u types)", i,
                      m->func_types[i], m->ntypes);
        return NULL;
    }
    return &m->types[m->func_types[i]];
}

/* offered_list writes "plugbay.log, plugbay.config, ..., plugbay.plugins_manage and
 * the functions of WASI preview 1 (wasi_snapshot_preview1.*)" into buf. */
static const char *offered_list(char *buf, size_t size)
{
    size_t n = 0;
    for (size_t k = 0; k < NOFFERED && n < size; k++)
        if (strcmp(offered[k].module, "plugbay") == 0)
            n += (size_t)snprintf(buf + n, size - n, "%splugbay.%s", k == 0 ? "" : ", ", offered[k].name);
    if (n < size)
        snprintf(buf + n, size - n, " and the functions of WASI preview 1 (" WASI ".*)");
    return buf;
}

/* offered_signature writes the type of an offered function in words into buf. */
static const char *offered_signature(const struct offered *o, char *buf, size_t size)
{
    if (o->signature)
        return o->signature;
    size_t n = (size_t)snprintf(buf, size, "(");
    for (const char *t = o->params; *t && n < size; t++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", t == o->params ? "" : ", ", *t == 'I' ? "i64" : "i32");
    if (n < size)
        snprintf(buf + n, size - n, ") -> %s", *o->results ? "i32" : "nil");
    return buf;
}

static int check_imports(const module *m, bay__wasm_shape *shape, bay_error *err)
{
    static const char *const kinds[] = {"function", "table", "memory", "global", "tag"};
    uint32_t func = 0;
    char list[600];
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        char mod[80], name[80], have[160];
        show(im->module, mod, sizeof mod);
        show(im->name, name, sizeof name);
        if (im->kind != KIND_FUNC)
            return bay_error_set(err, BAY_EPLUGIN, NULL,
                                 "imports the %s %s.%s, but a plugin may import only functions, and only %s%s",
                                 kinds[im->kind], mod, name, offered_list(list, sizeof list),
                                 im->kind == KIND_MEMORY
                                     ? " (define and export its own memory: link without --import-memory)"
                                     : "");
        const functype *t = func_type(m, func++, err);
        if (t == NULL)
            return BAY_EPLUGIN;
        size_t k = 0;
        while (k < NOFFERED && !(span_is(im->module, offered[k].module) && span_is(im->name, offered[k].name)))
            k++;
        if (k == NOFFERED)
            return bay_error_set(err, BAY_EPLUGIN, NULL,
                                 "imports %s.%s, which plugbay does not offer: a plugin may import only %s", mod,
                                 name, offered_list(list, sizeof list));
        bool wasi = strcmp(offered[k].module, WASI) == 0;
        char want[160];
        if (!has_type(t, offered[k].params, offered[k].results))
            return bay_error_set(err, BAY_EPLUGIN, NULL, "imports %s.%s with type %s, but %s.%s is %s (declare it as %s does)",
                                 mod, name, show_type(t, have, sizeof have), mod, name,
                                 offered_signature(&offered[k], want, sizeof want),
                                 wasi ? "wasi-libc" : "bridges/wasm/sdk/plugbay_wasm.h");
        shape->imports_plugbay |= !wasi;
        shape->imports_wasi |= wasi;
    }
    return 0;
}

static const export *find_export(const module *m, const char *name)
{
    for (uint32_t i = 0; i < m->nexports; i++)
        if (span_is(m->exports[i].name, name))
            return &m->exports[i];
    return NULL;
}

/* list_functions writes the module's function exports, comma-separated, into buf. */
static void list_functions(const module *m, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < m->nexports && n < size; i++) {
        char name[80];
        if (m->exports[i].kind == KIND_FUNC)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
                                  show(m->exports[i].name, name, sizeof name));
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "no function");
}

/* The type of an export that serves calls, in words. */
#define ENTRY_SIGNATURE "(i32 args, i32 args_len) -> i32 (export it with BAY_WASM_EXPORT)"

/* An export plugbay calls: its name, its type ('i' = i32), why plugbay wants it
 * (", which plugin.json names") and its signature in words. */
typedef struct wanted {
    const char *name, *params, *results, *role, *signature;
} wanted;

/* check_function checks that the module exports w->name as a function of w's
 * type. Returns 0, or BAY_EPLUGIN with the reason in err. */
static int check_function(const module *m, const wanted *w, bay_error *err)
{
    const export *e = find_export(m, w->name);
    if (e == NULL || e->kind != KIND_FUNC) {
        char names[300];
        list_functions(m, names, sizeof names);
        return bay_error_set(err, BAY_EPLUGIN, NULL, "does not export %sa function \"%s\"%s; it exports %s",
                             e ? "as " : "", w->name, w->role, names);
    }
    const functype *t = func_type(m, e->index, err);
    if (t == NULL)
        return BAY_EPLUGIN;
    char have[160];
    if (!has_type(t, w->params, w->results))
        return bay_error_set(err, BAY_EPLUGIN, NULL, "exports function \"%s\"%s, with type %s, but it must be %s",
                             w->name, w->role, show_type(t, have, sizeof have), w->signature);
    return 0;
}

static int check_shape(const module *m, const char *const *functions, bay__wasm_shape *shape, bay_error *err)
{
    int rc = check_imports(m, shape, err);
    if (rc)
        return rc;
    if (m->nmemories != 1 || m->memories_imported)
        return bay_error_set(err, BAY_EPLUGIN, NULL,
                             "defines %u memories, but a plugin defines exactly one (and imports none)",
                             m->nmemories - m->memories_imported);
    const export *mem = find_export(m, "memory");
    if (mem == NULL || mem->kind != KIND_MEMORY)
        return bay_error_set(err, BAY_EPLUGIN, NULL,
                             "does not export its memory as \"memory\" (wasm-ld does unless told otherwise)");
    if (m->largest_table > BAY_WASM_TABLE_MAX)
        return bay_error_set(err, BAY_EPLUGIN, NULL,
                             "declares a table of %u entries; a plugin's tables start with at most %u",
                             m->largest_table, BAY_WASM_TABLE_MAX);
    const wanted alloc = {"bay_alloc", "i", "i", ", the allocator plugbay places call arguments with",
                          "(i32 size) -> i32"},
                 init = {"_initialize", "", "", ", the WASI reactor's constructor", "() -> nil"};
    if ((rc = check_function(m, &alloc, err)))
        return rc;
    shape->has_initialize = find_export(m, "_initialize") != NULL;
    if (shape->has_initialize && (rc = check_function(m, &init, err)))
        return rc;
    for (const char *const *fn = functions; *fn; fn++) {
        const wanted entry = {*fn, "ii", "i", ", which plugin.json names", ENTRY_SIGNATURE};
        if ((rc = check_function(m, &entry, err)))
            return rc;
    }
    for (unsigned i = 0; bay__wasm_hooks[i]; i++) {
        const wanted hook = {bay__wasm_hooks[i], "ii", "i", ", a hook plugbay calls when a module exports it",
                             ENTRY_SIGNATURE};
        if (find_export(m, hook.name) == NULL)
            continue;
        if ((rc = check_function(m, &hook, err)))
            return rc;
        shape->hooks |= 1u << i;
    }
    shape->min_pages = m->min_pages;
    shape->max_pages = m->max_pages;
    return 0;
}

/* is_entry tells whether export e is a function of type (i32, i32) -> i32, the type of one serving calls. */
static bool is_entry(const module *m, const export *e)
{
    return e->kind == KIND_FUNC && e->index < m->nfuncs && m->func_types[e->index] < m->ntypes &&
           has_type(&m->types[m->func_types[e->index]], "ii", "i");
}

/* entry_names copies the names of m's exports that serve calls into one block: a NULL-terminated array of
 * pointers, the names after it. Returns NULL (BAY_ENOMEM in err) when out of memory. */
static char **entry_names(const module *m, bay_error *err)
{
    size_t n = 0, bytes = 0;
    for (uint32_t i = 0; i < m->nexports; i++)
        if (is_entry(m, &m->exports[i])) {
            n++;
            bytes += m->exports[i].name.len + 1;
        }
    char **names = malloc((n + 1) * sizeof *names + bytes);
    if (names == NULL) {
        bay_error_set(err, BAY_ENOMEM, NULL, "out of memory for the names of %zu exports", n);
        return NULL;
    }
    char *text = (char *)(names + n + 1);
    n = 0;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const span *name = &m->exports[i].name;
        if (!is_entry(m, &m->exports[i]))
            continue;
        names[n++] = memcpy(text, name->p, name->len);
        text[name->len] = '\0';
        text += name->len + 1;
    }
    names[n] = NULL;
    return names;
}

/* free_module frees what read_module allocated. */
static void free_module(module *m)
{
    free(m->types);
    free(m->imports);
    free(m->func_types);
    free(m->exports);
}

int bay__wasm_entries(const uint8_t *wasm, size_t len, char ***names, bay_error *err)
{
    module m = {0};
    reader r = {wasm, wasm, wasm + len, "the module", err};
    *names = read_module(&r, &m) ? entry_names(&m, err) : NULL;
    free_module(&m);
    return *names ? 0 : err->code;
}

int bay__wasm_check(const uint8_t *wasm, size_t len, const char *const *functions, bay__wasm_shape *shape,
                   bay_error *err)
{
    module m = {0};
    reader r = {wasm, wasm, wasm + len, "the module", err};
    *shape = (bay__wasm_shape){0};
    int rc = read_module(&r, &m) ? check_shape(&m, functions, shape, err) : BAY_EPLUGIN;
    free_module(&m);
    return rc;
}

bool bay__wasm_mangle(const char *name, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "Z_moduleZ_");
    for (const unsigned char *c = (const unsigned char *)name; *c && n < size; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Y') || (*c >= '0' && *c <= '9') || *c == '_';
        n += plain ? (out[n] = (char)*c, 1) : (size_t)snprintf(out + n, size - n, "Z%02X", *c);
    }
    if (n >= size)
        return false;
    out[n] = '\0';
    return true;
}
