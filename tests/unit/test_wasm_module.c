/* tests/unit/test_wasm_module.c — the wasm module reader and ABI check (bridges/wasm/module.c) on modules built byte by byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/error.h>

#include "module.h"

/* A module under construction. */
typedef struct buf {
    uint8_t b[1024];
    size_t n;
} buf;

static void put(buf *m, const void *bytes, size_t n)
{
    cr_assert(m->n + n <= sizeof m->b);
    memcpy(m->b + m->n, bytes, n);
    m->n += n;
}

static void byte(buf *m, uint8_t b)
{
    put(m, &b, 1);
}

static void name(buf *m, const char *s)
{
    byte(m, (uint8_t)strlen(s));
    put(m, s, strlen(s));
}

static void section(buf *m, uint8_t id, const buf *body)
{
    byte(m, id);
    byte(m, (uint8_t)body->n); /* every test section is shorter than 128 bytes */
    put(m, body->b, body->n);
}

/* What a test module looks like; make() builds the module that fits the ABI
 * from the default and each test changes one thing. */
typedef struct recipe {
    const char *import_module, *import_name;
    uint8_t import_type; /* index into the types below */
    const char *entry;   /* the entry point's export name */
    uint8_t entry_type;
    const char *memory_export;
    uint8_t min_pages;
} recipe;

/* The types: 0 (i32) -> i32, 1 (i32, i32) -> i32, 2 (i32, i32, i32) -> nil. */
static const uint8_t types[] = {3, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f, 0x60, 3, 0x7f, 0x7f, 0x7f, 0};

static const recipe fits = {"plugbay", "log", 2, "greet", 1, "memory", 2};

static void make(buf *m, const recipe *r)
{
    static const uint8_t header[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    buf s = {0};
    *m = (buf){0};
    put(m, header, sizeof header);
    put(&s, types, sizeof types);
    section(m, 1, &s);
    s = (buf){0};
    byte(&s, 1);
    name(&s, r->import_module);
    name(&s, r->import_name);
    byte(&s, 0);
    byte(&s, r->import_type);
    section(m, 2, &s);
    s = (buf){0};
    put(&s, (uint8_t[]){2, 0, r->entry_type}, 3); /* function 1: bay_alloc, function 2: the entry */
    section(m, 3, &s);
    s = (buf){0};
    put(&s, (uint8_t[]){1, 0, r->min_pages}, 3);
    section(m, 5, &s);
    s = (buf){0};
    byte(&s, 3);
    name(&s, r->memory_export);
    put(&s, (uint8_t[]){2, 0}, 2);
    name(&s, "bay_alloc");
    put(&s, (uint8_t[]){0, 1}, 2);
    name(&s, r->entry);
    put(&s, (uint8_t[]){0, 2}, 2);
    section(m, 7, &s);
}

static const char *const greet_only[] = {"greet", NULL};

/* check runs bay__wasm_check on m for greet_only, returning the code and filling why. */
static int check(const buf *m, bay_error *why)
{
    bay__wasm_shape shape;
    return bay__wasm_check(m->b, m->n, greet_only, &shape, why);
}

/* expect_refused builds the module of r and checks it is refused with a
 * reason holding each of texts (NULL-terminated). */
static void expect_refused(const recipe *r, const char *const *texts)
{
    buf m;
    make(&m, r);
    bay_error why;
    cr_assert_eq(check(&m, &why), BAY_EPLUGIN);
    for (size_t i = 0; texts[i]; i++)
        cr_assert(strstr(why.message, texts[i]), "the reason lacks \"%s\": %s", texts[i], why.message);
}

Test(wasm_module, accepts_a_module_that_fits_the_abi)
{
    buf m;
    make(&m, &fits);
    bay__wasm_shape shape;
    bay_error why;
    cr_assert_eq(bay__wasm_check(m.b, m.n, greet_only, &shape, &why), 0, "%s", why.message);
    cr_assert_eq(shape.min_pages, 2);
    cr_assert_eq(shape.max_pages, UINT32_MAX);
    cr_assert(shape.imports_plugbay);
    cr_assert_not(shape.has_initialize);
}

Test(wasm_module, refuses_a_file_that_is_not_wasm)
{
    buf m = {.n = 12};
    memcpy(m.b, "hello, world", 12);
    bay_error why;
    cr_assert_eq(check(&m, &why), BAY_EPLUGIN);
    cr_assert(strstr(why.message, "not a valid WebAssembly module") && strstr(why.message, "magic"), "%s", why.message);
}

Test(wasm_module, refuses_every_truncation_of_a_module)
{
    buf m;
    make(&m, &fits);
    size_t full = m.n;
    for (size_t n = 0; n < full; n++) {
        m.n = n;
        bay_error why = {.message = ""};
        cr_assert_eq(check(&m, &why), BAY_EPLUGIN, "a module cut at byte %zu passed", n);
        cr_assert(why.message[0], "no reason for a module cut at byte %zu", n);
    }
}

Test(wasm_module, refuses_an_import_plugbay_does_not_offer)
{
    recipe r = fits;
    r.import_module = "env";
    r.import_name = "system";
    expect_refused(&r, (const char *[]){"imports env.system, which plugbay does not offer", "plugbay.log", NULL});
}

Test(wasm_module, accepts_a_wasi_import_of_its_type)
{
    recipe r = fits;
    r.import_module = "wasi_snapshot_preview1";
    r.import_name = "fd_fdstat_get";
    r.import_type = 1;
    buf m;
    make(&m, &r);
    bay__wasm_shape shape;
    bay_error why;
    cr_assert_eq(bay__wasm_check(m.b, m.n, greet_only, &shape, &why), 0, "%s", why.message);
    cr_assert(shape.imports_wasi);
    cr_assert_not(shape.imports_plugbay);
}

Test(wasm_module, refuses_a_wasi_import_of_the_wrong_type)
{
    recipe r = fits;
    r.import_module = "wasi_snapshot_preview1";
    r.import_name = "fd_write";
    r.import_type = 1;
    expect_refused(&r, (const char *[]){"wasi_snapshot_preview1.fd_write with type (i32, i32) -> i32",
                                        "is (i32, i32, i32, i32) -> i32", "as wasi-libc does", NULL});
}

Test(wasm_module, refuses_a_wasi_function_preview_1_does_not_have)
{
    recipe r = fits;
    r.import_module = "wasi_snapshot_preview1";
    r.import_name = "fd_frobnicate";
    r.import_type = 1;
    expect_refused(&r, (const char *[]){"imports wasi_snapshot_preview1.fd_frobnicate, which plugbay does not offer",
                                        "WASI preview 1", NULL});
}

Test(wasm_module, refuses_an_import_of_the_wrong_type)
{
    recipe r = fits;
    r.import_type = 0;
    expect_refused(&r,
                   (const char *[]){"plugbay.log with type (i32) -> i32", "(i32 level, i32 msg, i32 msg_len)", NULL});
}

Test(wasm_module, names_a_missing_function_and_what_is_exported)
{
    buf m;
    make(&m, &fits);
    const char *const functions[] = {"greet", "farewell", NULL};
    bay__wasm_shape shape;
    bay_error why;
    cr_assert_eq(bay__wasm_check(m.b, m.n, functions, &shape, &why), BAY_EPLUGIN);
    cr_assert(strstr(why.message, "does not export a function \"farewell\", which plugin.json names") &&
                  strstr(why.message, "it exports bay_alloc, greet"),
              "%s", why.message);
}

static const char *const no_functions[] = {NULL};

/* shape_of builds the module of r and checks it for functions: the code, *shape and why. */
static int shape_of(const recipe *r, const char *const *functions, bay__wasm_shape *shape, bay_error *why)
{
    buf m;
    make(&m, r);
    return bay__wasm_check(m.b, m.n, functions, shape, why);
}

Test(wasm_module, accepts_the_settings_and_storage_imports)
{
    static const char *const imports[] = {"settings", "store_get", "store_delete", "store_keys"};
    for (size_t i = 0; i < sizeof imports / sizeof *imports; i++) {
        recipe r = fits;
        r.import_name = imports[i];
        r.import_type = 1;
        bay__wasm_shape shape;
        bay_error why;
        cr_assert_eq(shape_of(&r, greet_only, &shape, &why), 0, "plugbay.%s: %s", imports[i], why.message);
    }
    recipe r = fits;
    r.import_name = "store_sql";
    r.import_type = 1;
    expect_refused(&r, (const char *[]){"plugbay.store_sql with type (i32, i32) -> i32",
                                        "(i32 sql, i32 sql_len, i32 params, i32 params_len) -> i32", NULL});
}

Test(wasm_module, accepts_the_timer_and_manage_imports_and_refuses_them_mistyped)
{
    bay__wasm_shape shape;
    bay_error why;
    recipe r = fits;
    r.import_name = "timer_remove";
    r.import_type = 1; /* (i32, i32) -> i32 */
    cr_assert_eq(shape_of(&r, greet_only, &shape, &why), 0, "plugbay.timer_remove: %s", why.message);
    r.import_name = "plugins_manage"; /* four i32 in, not two */
    expect_refused(&r, (const char *[]){"plugbay.plugins_manage with type (i32, i32) -> i32",
                                        "(i32 what, i32 what_len, i32 id, i32 id_len) -> i32", NULL});
}

/* entries_of builds the module of r and returns bay__wasm_entries' names as one string, "a b " (static). */
static const char *entries_of(const recipe *r)
{
    static char text[200];
    buf m;
    make(&m, r);
    char **names;
    bay_error why;
    cr_assert_eq(bay__wasm_entries(m.b, m.n, &names, &why), 0, "%s", why.message);
    text[0] = '\0';
    for (size_t i = 0; names[i]; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s ", names[i]);
    free(names);
    return text;
}

Test(wasm_module, lists_the_exports_that_serve_calls_or_timers)
{
    recipe r = fits;
    r.entry = "tick";
    cr_assert_str_eq(entries_of(&r), "tick "); /* not memory, not bay_alloc (i32) -> i32 */
    r.entry_type = 0;
    cr_assert_str_eq(entries_of(&r), "");
    buf bad = {0};
    put(&bad, "\0asm\2\0\0\0", 8);
    char **names;
    bay_error why;
    cr_assert_eq(bay__wasm_entries(bad.b, bad.n, &names, &why), BAY_EPLUGIN);
    cr_assert_null(names);
}

Test(wasm_module, records_each_hook_a_module_exports)
{
    bay__wasm_shape shape;
    bay_error why;
    for (unsigned i = 0; bay__wasm_hooks[i]; i++) {
        recipe r = fits;
        r.entry = bay__wasm_hooks[i];
        cr_assert_eq(shape_of(&r, no_functions, &shape, &why), 0, "%s", why.message);
        cr_assert_eq(shape.hooks, 1u << i, "%s", bay__wasm_hooks[i]);
    }
    cr_assert_eq(shape_of(&fits, greet_only, &shape, &why), 0, "%s", why.message);
    cr_assert_eq(shape.hooks, 0);
}

Test(wasm_module, refuses_a_hook_of_the_wrong_type)
{
    recipe r = fits;
    r.entry = "on_update";
    r.entry_type = 0;
    bay__wasm_shape shape;
    bay_error why;
    cr_assert_eq(shape_of(&r, no_functions, &shape, &why), BAY_EPLUGIN);
    cr_assert(strstr(why.message, "exports function \"on_update\", a hook plugbay calls when a module exports it, "
                                  "with type (i32) -> i32, but it must be (i32 args, i32 args_len) -> i32"),
              "%s", why.message);
}

Test(wasm_module, refuses_an_entry_point_of_the_wrong_type)
{
    recipe r = fits;
    r.entry_type = 0;
    expect_refused(&r, (const char *[]){"\"greet\", which plugin.json names, with type (i32) -> i32",
                                        "(i32 args, i32 args_len) -> i32", NULL});
}

Test(wasm_module, refuses_a_module_that_does_not_export_its_memory)
{
    recipe r = fits;
    r.memory_export = "mem";
    expect_refused(&r, (const char *[]){"does not export its memory as \"memory\"", NULL});
}

Test(wasm_module, refuses_an_integer_longer_than_32_bits)
{
    static const uint8_t bad[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10};
    bay__wasm_shape shape;
    bay_error why;
    cr_assert_eq(bay__wasm_check(bad, sizeof bad, greet_only, &shape, &why), BAY_EPLUGIN);
    cr_assert(strstr(why.message, "does not fit in 32 bits") && strstr(why.message, "byte 0x9"), "%s", why.message);
}

Test(wasm_module, refuses_a_count_larger_than_its_section_before_allocating)
{
    static const uint8_t bad[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x0f};
    bay__wasm_shape shape;
    bay_error why;
    cr_assert_eq(bay__wasm_check(bad, sizeof bad, greet_only, &shape, &why), BAY_EPLUGIN);
    cr_assert(strstr(why.message, "4294967295 imports cannot fit"), "%s", why.message);
}

Test(wasm_module, mangles_names_as_wasm2c_does)
{
    char out[64];
    cr_assert(bay__wasm_mangle("greet_2", out, sizeof out));
    cr_assert_str_eq(out, "Z_moduleZ_greet_2");
    cr_assert(bay__wasm_mangle("Zed", out, sizeof out));
    cr_assert_str_eq(out, "Z_moduleZ_Z5Aed");
    cr_assert(bay__wasm_mangle("a.b-c", out, sizeof out));
    cr_assert_str_eq(out, "Z_moduleZ_aZ2EbZ2Dc");
    cr_assert_not(bay__wasm_mangle("a_rather_long_name", out, 20));
}
