/* tests/e2e/test_store.c — the plugin storage (bay_store_*) through test/store's worker: values, SQL, refusals, quota, lifetime. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define VALUE_MAX (1 << 20)

static harness h;
static bay_conn *c;

/* test/store-small is test/store with limits.storage_mb 1. */
static const char small_manifest[] =
    "{\"name\": \"Store small\", \"version\": \"0.1.0\", \"language\": \"c\", \"entry\": \"plugin.so\","
    " \"limits\": {\"storage_mb\": 1}, \"provides\": ["
    "{\"name\": \"small.put_size\", \"function\": \"store_put_size\", \"kind\": \"handle\"},"
    "{\"name\": \"small.delete\", \"function\": \"store_delete\", \"kind\": \"handle\"}]}";

static void start(void)
{
    const char *ids[] = {"test/store", NULL};
    h_setup(&h, ids);
    h_clone_plugin(&h, "test/store", "test/store-small", small_manifest);
    h_start(&h, NULL);
    c = h_connect(&h, "test-store");
    const char *all[] = {"test/store", "test/store-small", NULL};
    h_wait_loaded(c, all);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(store, .init = start, .fini = stop, .timeout = 180);

/* call_within calls name with args (taken: freed here) and a deadline of
 * timeout_ms (0: the default), and returns the code; *res (when res is not
 * NULL) gets the result. */
static int call_within(const char *name, bay_value *args, int timeout_ms, bay_value **res, bay_error *err)
{
    bay_value *out = NULL;
    bay_call_opts opts = {.timeout_ms = timeout_ms};
    int rc = bay_call(c, name, args, &opts, &out, err);
    bay_value_free(args);
    if (res)
        *res = out;
    else
        bay_value_free(out);
    return rc;
}

/* call calls name as call_within does, with the default deadline. */
static int call(const char *name, bay_value *args, bay_value **res, bay_error *err)
{
    return call_within(name, args, 0, res, err);
}

/* args2 makes the argument array [a, b] of a string and a value (taken; NULL: leave b out). */
static bay_value *args2(const char *a, bay_value *b)
{
    bay_value *v = bay_array();
    bay_array_push(v, bay_str(a));
    if (b)
        bay_array_push(v, b);
    return v;
}

static int put(const char *key, bay_value *value, bay_error *err)
{
    return call("store.put", args2(key, value), NULL, err);
}

static int get(const char *key, bay_value **res, bay_error *err)
{
    return call("store.get", args2(key, NULL), res, err);
}

static int put_size(const char *name, const char *key, int64_t bytes, bay_error *err)
{
    return call(name, args2(key, bay_int(bytes)), NULL, err);
}

/* sql runs one statement with params given as JSON (NULL: none) and returns the code. */
static int sql(const char *text, const char *params_json, bay_value **rows, bay_error *err)
{
    bay_value *params = NULL;
    if (params_json) {
        char why[200];
        cr_assert_eq(bay_value_from_json(params_json, &params, why, sizeof why), 0, "%s", why);
    }
    return call("store.sql", args2(text, params), rows, err);
}

/* json renders v as JSON for comparisons (static buffer of the caller). */
static const char *json(const bay_value *v, char *buf, size_t len)
{
    char *text = NULL;
    cr_assert_eq(bay_value_to_json(v, &text), 0);
    snprintf(buf, len, "%s", text);
    free(text);
    return buf;
}

/* expect_get asserts that key holds want (freed here). */
static void expect_get(const char *key, bay_value *want)
{
    bay_value *got = NULL;
    bay_error err;
    cr_assert_eq(get(key, &got, &err), 0, "get %s: %s", key, err.message);
    char a[1024], b[1024];
    cr_expect(bay_value_equal(got, want), "%s: got %s, want %s", key, json(got, a, sizeof a), json(want, b, sizeof b));
    bay_value_free(got);
    bay_value_free(want);
}

Test(store, every_value_type_round_trips_and_delete_removes_it)
{
    bay_value *nested = bay_map();
    bay_map_set(nested, "list", bay_array());
    bay_array_push((bay_value *)bay_map_get(nested, "list"), bay_bin("\0\1\2", 3));
    bay_map_set(nested, "s", bay_str("é"));
    bay_value *values[] = {bay_nil(), bay_bool(true), bay_bool(false), bay_int(INT64_MIN), bay_int(42),
                           bay_float(-0.5), bay_str(""), bay_strn("a\0b", 3), bay_bin("\xff\0", 2), bay_array(),
                           nested};
    size_t n = sizeof values / sizeof *values;
    bay_error err;
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "type/%zu", i);
        cr_assert_eq(put(key, bay_value_copy(values[i]), &err), 0, "put %s: %s", key, err.message);
        expect_get(key, values[i]);
    }
    cr_assert_eq(call("store.delete", args2("type/1", NULL), NULL, &err), 0, "%s", err.message);
    cr_assert_eq(get("type/1", NULL, &err), BAY_ENOENT, "a deleted key is gone");
    cr_expect(strstr(err.message, "test/store: bay_store_get: nothing is stored under key \"type/1\""), "message: %s",
              err.message);
    cr_expect_eq(call("store.delete", args2("type/1", NULL), NULL, &err), 0, "deleting a missing key: %s",
                 err.message);
    expect_get("type/2", bay_bool(false));
}

Test(store, keys_lists_a_prefix_in_byte_order)
{
    const char *keys[] = {"k/b", "k/a/10", "k/a/2", "k/a/1", "k/\xc3\xa9", "k/Z", "l/a", "k"};
    bay_error err;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        cr_assert_eq(put(keys[i], bay_int((int64_t)i), &err), 0, "%s", err.message);
    bay_value *res = NULL;
    cr_assert_eq(call("store.keys", args2("k/", NULL), &res, &err), 0, "%s", err.message);
    char buf[512];
    cr_expect_str_eq(json(res, buf, sizeof buf), "[\"k/Z\",\"k/a/1\",\"k/a/10\",\"k/a/2\",\"k/b\",\"k/\xc3\xa9\"]");
    bay_value_free(res);
    cr_assert_eq(call("store.keys", bay_array(), &res, &err), 0, "%s", err.message);
    cr_expect_eq(bay_value_len(res), sizeof keys / sizeof *keys, "every key without a prefix: %s",
                 json(res, buf, sizeof buf));
    bay_value_free(res);
}

Test(store, keys_of_0_or_257_bytes_are_refused)
{
    char long_key[258];
    memset(long_key, 'k', 257);
    long_key[257] = '\0';
    bay_error err;
    cr_assert_eq(put(long_key, bay_int(1), &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "a key must be 1 to 256 bytes, got 257"), "message: %s", err.message);
    cr_assert_eq(put("", bay_int(1), &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "got 0"), "message: %s", err.message);
    long_key[256] = '\0';
    cr_expect_eq(put(long_key, bay_int(1), &err), 0, "256 bytes: %s", err.message);
}

Test(store, a_value_over_1_mib_packed_is_refused)
{
    bay_error err;
    /* A binary of n bytes packs to n + 5 (bin 32 header). */
    cr_assert_eq(put_size("store.put_size", "big", VALUE_MAX - 5, &err), 0, "exactly 1 MiB: %s", err.message);
    cr_assert_eq(put_size("store.put_size", "big", VALUE_MAX - 4, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "test/store: bay_store_put(\"big\"): the value packs to 1048577 bytes, over the "
                                  "limit of 1048576 (1 MiB)"),
              "message: %s", err.message);
    bay_value *res = NULL;
    cr_assert_eq(get("big", &res, &err), 0, "%s", err.message);
    cr_expect_eq(bay_value_len(res), 0);
    size_t len = 0;
    bay_value_str(res, &len);
    cr_expect_eq(len, (size_t)VALUE_MAX - 5, "the refused put left the value before");
    bay_value_free(res);
}

Test(store, sql_binds_positional_and_named_parameters_and_returns_rows)
{
    bay_error err;
    bay_value *rows = NULL;
    cr_assert_eq(sql("CREATE TABLE notes(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT UNIQUE, score REAL, "
                     "data BLOB, done INTEGER)",
                     NULL, &rows, &err),
                 0, "%s", err.message);
    cr_expect_eq(bay_value_len(rows), 0, "a statement without rows gives an empty array");
    bay_value_free(rows);
    cr_assert_eq(sql("INSERT INTO notes(title, score, data, done) VALUES (?, ?2, ?3, ?4)", "[\"one\", 1.5, null, true]",
                     NULL, &err),
                 0, "%s", err.message);
    cr_assert_eq(sql("INSERT INTO notes(title, score, done) VALUES (:title, @score, $done)",
                     "{\"title\": \"two\", \"score\": 7, \"done\": false}", NULL, &err),
                 0, "%s", err.message);
    bay_value *bin = args2("UPDATE notes SET data = ? WHERE title = 'two'", bay_array());
    bay_array_push((bay_value *)bay_array_get(bin, 1), bay_bin("\0x", 2));
    cr_assert_eq(call("store.sql", bin, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(sql("SELECT id, title, score, data, done FROM notes WHERE score > :min ORDER BY id", "{\"min\": 0}",
                     &rows, &err),
                 0, "%s", err.message);
    cr_assert_eq(bay_value_len(rows), 2);
    char buf[512];
    const bay_value *two = bay_array_get(rows, 1);
    size_t len;
    const char *data = bay_value_str(bay_map_get(two, "data"), &len);
    cr_expect(bay_value_type(bay_map_get(two, "data")) == BAY_BIN && len == 2 && memcmp(data, "\0x", 2) == 0,
              "a blob comes back as bin");
    bay_map_set((bay_value *)two, "data", bay_nil());
    cr_expect_str_eq(json(rows, buf, sizeof buf),
                     "[{\"id\":1,\"title\":\"one\",\"score\":1.5,\"data\":null,\"done\":1},"
                     "{\"id\":2,\"title\":\"two\",\"score\":7.0,\"data\":null,\"done\":0}]");
    bay_value_free(rows);
    cr_expect_eq(sql("INSERT INTO notes(title) VALUES ('one')", NULL, NULL, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "UNIQUE constraint failed: notes.title"), "message: %s", err.message);
    cr_expect_eq(sql("SELEC 1", NULL, NULL, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "test/store: bay_store_sql: near \"SELEC\": syntax error"), "message: %s",
              err.message);
    cr_expect_eq(sql("SELECT ? + ?", "[1]", NULL, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "the statement has 2 parameters, the array gives 1"), "message: %s", err.message);
    cr_expect_eq(sql("SELECT :a", "{\"b\": 1}", NULL, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "parameter :a is missing from the map"), "message: %s", err.message);
    cr_expect_eq(sql("SELECT :a", "{\"a\": 1, \"b\": 2}", NULL, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "the map's key \"b\" names no parameter"), "message: %s", err.message);
    cr_expect_eq(sql("SELECT ?", "[[1]]", NULL, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "parameter 1 is array"), "message: %s", err.message);
}

Test(store, sql_the_store_refuses_says_why_and_the_plugin_answers_after)
{
    bay_error err;
    cr_assert_eq(sql("CREATE TABLE t(x)", NULL, NULL, &err), 0, "%s", err.message);
    static const struct {
        const char *sql;
        int code;
        const char *says;
    } cases[] = {
        {"ATTACH DATABASE '/tmp/x.db' AS x", BAY_EPERM, "ATTACH and DETACH are refused"},
        {"PRAGMA journal_mode=DELETE", BAY_EPERM, "PRAGMA journal_mode is refused: the store sets its own pragmas"},
        {"PRAGMA writable_schema=1", BAY_EPERM, "PRAGMA writable_schema is refused"},
        {"BEGIN", BAY_EPERM, "each storage call is a transaction of its own"},
        {"SAVEPOINT s", BAY_EPERM, "each storage call is a transaction of its own"},
        {"SELECT load_extension('x')", BAY_EPERM, "load_extension() is refused"},
        {"INSERT INTO bay_kv VALUES ('k', x'00')", BAY_EPERM, "table \"bay_kv\" is refused"},
        {"SELECT * FROM bay_kv", BAY_EPERM, "table \"bay_kv\" is refused"},
        {"DROP TABLE bay_kv", BAY_EPERM, "table \"bay_kv\" is refused"},
        {"CREATE TABLE bay_mine(x)", BAY_EPERM, "table \"bay_mine\" is refused"},
        {"CREATE TRIGGER tr AFTER INSERT ON BAY_KV BEGIN SELECT 1; END", BAY_EPERM, "table \"bay_kv\" is refused"},
        {"UPDATE sqlite_master SET sql = ''", BAY_EINVAL, "table sqlite_master may not be modified"},
        {"INSERT INTO t VALUES (1); DELETE FROM t", BAY_EINVAL,
         "bay_store_sql runs exactly one statement; more follows: \" DELETE FROM t\""},
        {"  ; -- nothing", BAY_EINVAL, "the SQL holds no statement"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = sql(cases[i].sql, NULL, NULL, &err);
        cr_expect_eq(rc, cases[i].code, "%s: got %s: %s", cases[i].sql, bay_errname(rc), err.message);
        cr_expect(strstr(err.message, cases[i].says), "%s: message: %s", cases[i].sql, err.message);
        cr_expect(strstr(err.message, "test/store: "), "%s: the message names the plugin: %s", cases[i].sql,
                  err.message);
    }
    bay_value *rows = NULL;
    cr_assert_eq(sql("SELECT count(*) AS n FROM t", NULL, &rows, &err), 0, "%s", err.message);
    cr_expect_eq(bay_value_int(bay_map_get(bay_array_get(rows, 0), "n")), 0, "the refused two statements wrote nothing");
    bay_value_free(rows);
    cr_assert_eq(sql("SELECT name FROM sqlite_master WHERE name = 't'", NULL, &rows, &err), 0,
                 "reading the schema is allowed: %s", err.message);
    cr_expect_eq(bay_value_len(rows), 1);
    bay_value_free(rows);
    cr_expect_eq(h_refused(c, "test/store", NULL), 0, "the sandbox refused nothing SQLite did");
}

/* Data is kept after a reload and after plugbayd restarts. */
Test(store, data_is_kept_across_reload_and_restart)
{
    bay_error err;
    cr_assert_eq(put("kept", bay_str("yes"), &err), 0, "%s", err.message);
    cr_assert_eq(sql("CREATE TABLE kept(x)", NULL, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(sql("INSERT INTO kept VALUES (?)", "[5]", NULL, &err), 0, "%s", err.message);
    pid_t before = h_worker_pid(c, "test/store");
    cr_assert_eq(h_command(c, "reload", "test/store", &err), 0, "%s", err.message);
    cr_assert_neq(h_worker_pid(c, "test/store"), before, "a new worker serves after the reload");
    expect_get("kept", bay_str("yes"));
    bay_close(c);
    h_stop(&h);
    h_start(&h, NULL);
    c = h_connect(&h, "test-store");
    cr_assert(h_wait_state(c, "test/store", "loaded", H_WAIT_MS));
    expect_get("kept", bay_str("yes"));
    bay_value *rows = NULL;
    cr_assert_eq(sql("SELECT x FROM kept", NULL, &rows, &err), 0, "%s", err.message);
    cr_expect_eq(bay_value_int(bay_map_get(bay_array_get(rows, 0), "x")), 5);
    bay_value_free(rows);
}

/* answers_kept tells whether test/store answers store.get("killed") with the value put before its worker was killed. */
static bool answers_kept(void *arg)
{
    (void)arg;
    bay_value *res = NULL;
    bay_error err;
    bool ok = get("killed", &res, &err) == 0 && bay_value_int(res) == 77;
    bay_value_free(res);
    return ok;
}

Test(store, a_put_answered_survives_its_worker_killed)
{
    bay_error err;
    cr_assert_eq(put("killed", bay_int(77), &err), 0, "%s", err.message);
    pid_t pid = h_worker_pid(c, "test/store");
    cr_assert_gt(pid, 0);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert(h_wait_until(answers_kept, NULL, H_WAIT_MS), "the value put was lost with the worker");
    cr_expect_neq(h_worker_pid(c, "test/store"), pid, "a new worker answered");
}

Test(store, the_quota_fills_with_enospc_and_a_delete_frees_space)
{
    bay_error err;
    int rc = 0, puts = 0;
    for (; puts < 20 && (rc = put_size("small.put_size", (char[]){'k', (char)('a' + puts), 0}, 200 * 1024, &err)) == 0;
         puts++)
        ;
    cr_assert_eq(rc, BAY_ENOSPC, "after %d puts of 200 KiB into 1 MiB: %s (%s)", puts, bay_errname(rc), err.message);
    cr_expect_gt(puts, 1, "some values fit");
    cr_expect_str_eq(err.plugin, "test/store-small");
    cr_expect(strstr(err.message, "test/store-small: storage is full: limits.storage_mb is 1 MiB"), "message: %s",
              err.message);
    cr_assert_eq(call("small.delete", args2("ka", NULL), NULL, &err), 0, "%s", err.message);
    cr_expect_eq(put_size("small.put_size", "ka", 200 * 1024, &err), 0, "after a delete: %s", err.message);
}

Test(store, the_plugin_needs_no_permission_and_uninstall_removes_its_store)
{
    bay_value *a = bay_map(), *info = NULL;
    bay_map_set(a, "id", bay_str("test/store"));
    bay_error err;
    cr_assert_eq(bay_command(c, "info", a, 5000, &info, &err), 0, "%s", err.message);
    bay_value_free(a);
    const bay_value *granted = bay_map_get(info, "granted");
    char buf[512];
    for (size_t i = 0; i < bay_value_len(granted); i++)
        cr_expect_neq(strncmp(bay_value_str(bay_array_get(granted, i), NULL), "fs.", 3), 0,
                      "test/store has no file permission: %s", json(granted, buf, sizeof buf));
    bay_value_free(info);
    cr_assert_eq(put("here", bay_int(1), &err), 0, "%s", err.message);
    char file[700];
    snprintf(file, sizeof file, "%s/data/test/store/.plugbay-store.sqlite", h.state);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0, "the store %s exists", file);
    cr_assert_eq(h_command(c, "uninstall", "test/store", &err), 0, "%s", err.message);
    cr_expect_neq(stat(file, &st), 0, "uninstall removed %s", file);
    cr_assert_eq(h_install_all(c, "test/store", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "test/store", "loaded", H_WAIT_MS));
    cr_expect_eq(get("here", NULL, &err), BAY_ENOENT, "a new install starts empty: %s", err.message);
}

/* awake tells whether the main thread of worker *(pid_t *)pid has stopped sleeping (waiting for a lock). */
static bool awake(void *pid)
{
    return !h_main_thread_sleeps(pid);
}

/* A connection of the test's own holds the store's write lock, as the other
 * worker of a reload may: a put waits 5 s, then fails with BAY_EBUSY; a call
 * whose deadline comes first stops waiting then (its worker is not killed). */
Test(store, a_locked_store_is_ebusy_after_5_s_and_a_wait_ends_with_its_call)
{
    bay_error err;
    cr_assert_eq(put("lock", bay_int(1), &err), 0, "%s", err.message);
    char file[700];
    snprintf(file, sizeof file, "%s/data/test/store/.plugbay-store.sqlite", h.state);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(file, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    pid_t pid = h_worker_pid(c, "test/store");
    long long t0 = h_now_ms();
    int rc = call_within("store.put", args2("lock", bay_int(2)), 10000, NULL, &err);
    long long waited = h_now_ms() - t0;
    cr_expect_eq(rc, BAY_EBUSY, "got %s: %s", bay_errname(rc), err.message);
    cr_expect_geq(waited, 5000, "the put gave up after %lld ms", waited);
    cr_expect(strstr(err.message, "test/store: bay_store_put: the database stayed locked for 5000 ms"), "message: %s",
              err.message);
    rc = call_within("store.put", args2("lock", bay_int(3)), 500, NULL, &err);
    cr_expect_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    /* Within the hang grace (2 s), and well before SQLite's own 5 s were up, the worker stopped waiting. */
    cr_expect(h_wait_until(awake, &pid, 2000), "the worker still waits for the lock after the call's deadline");
    cr_assert_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(put("lock", bay_int(4), &err), 0, "once the lock is gone: %s", err.message);
    cr_expect_eq(h_worker_pid(c, "test/store"), pid, "the worker that waited was not killed (log %s)", h.log);
    cr_expect(!h_log_contains(&h, "killing worker"), "the worker that waited was not killed");
    expect_get("lock", bay_int(4));
}
