/* tests/unit/test_store_hook.c — the store (bridges/common/store.c) on a real SQLite file: hook transactions, call deadlines, values it cannot keep. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "send.h"
#include "store.h"

static char dir[64];
static bay_value *manifest;

/* setup gives the worker state a fresh data folder and a manifest with limits.storage_mb 1. */
static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/bay-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    manifest = bay_map();
    bay_value *limits = bay_map();
    bay_map_set(limits, "storage_mb", bay_int(1));
    bay_map_set(manifest, "limits", limits);
    bay__w.id = "test/hook";
    bay__w.info = (bay__plugin_info){.id = "test/hook", .data_dir = dir, .manifest = manifest};
}

static void teardown(void)
{
    bay__store_close();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
    bay_value_free(manifest);
}

TestSuite(store_hook, .init = setup, .fini = teardown);

/* has tells whether key holds a value. */
static bool has(const char *key)
{
    bay_value *v = NULL;
    int rc = bay_store_get(key, &v, NULL);
    bay_value_free(v);
    cr_assert(rc == 0 || rc == BAY_ENOENT, "get %s: %s", key, bay_errname(rc));
    return rc == 0;
}

/* put_int stores i under key and returns the code. */
static int put_int(const char *key, int64_t i, bay_error *err)
{
    bay_value *v = bay_int(i);
    int rc = bay_store_put(key, v, err);
    bay_value_free(v);
    return rc;
}

/* count returns the rows of table t. */
static int64_t count(const char *t)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) AS n FROM %s", t);
    bay_value *rows = NULL;
    bay_error err;
    cr_assert_eq(bay_store_sql(sql, NULL, &rows, &err), 0, "%s", err.message);
    int64_t n = bay_value_int(bay_map_get(bay_array_get(rows, 0), "n"));
    bay_value_free(rows);
    return n;
}

Test(store_hook, a_committed_hook_keeps_what_it_wrote_but_a_failed_call_inside)
{
    bay_error err;
    cr_assert_eq(bay_store_sql("CREATE TABLE t(x UNIQUE)", NULL, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(bay__store_begin(&err), 0, "%s", err.message);
    cr_assert_eq(put_int("a", 1, &err), 0, "%s", err.message);
    /* OR FAIL keeps the rows a statement wrote before it failed: the call's savepoint takes them back. */
    cr_assert_eq(bay_store_sql("INSERT OR FAIL INTO t VALUES (1), (1)", NULL, NULL, &err), BAY_EINVAL,
                 "the second row breaks UNIQUE");
    cr_assert_eq(bay_store_sql("INSERT INTO t VALUES (2)", NULL, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(bay__store_end(true, &err), 0, "%s", err.message);
    cr_expect(has("a"));
    cr_expect_eq(count("t"), 1, "the failed call's first row was rolled back, the call after it kept");
}

Test(store_hook, a_hook_rolled_back_leaves_the_store_as_it_was)
{
    bay_error err;
    cr_assert_eq(put_int("before", 1, &err), 0, "%s", err.message);
    cr_assert_eq(bay__store_begin(&err), 0, "%s", err.message);
    cr_assert_eq(put_int("during", 2, &err), 0, "%s", err.message);
    cr_assert_eq(bay_store_delete("before", &err), 0, "%s", err.message);
    cr_assert_eq(bay_store_sql("CREATE TABLE made(x)", NULL, NULL, &err), 0, "%s", err.message);
    cr_assert(!has("before"), "inside the hook its own writes show");
    cr_assert_eq(bay__store_end(false, &err), 0, "%s", err.message);
    cr_expect(has("before"));
    cr_expect(!has("during"));
    cr_expect_eq(bay_store_sql("SELECT * FROM made", NULL, NULL, &err), BAY_EINVAL, "the table was rolled back too");
    cr_expect(strstr(err.message, "test/hook: bay_store_sql: no such table: made"), "message: %s", err.message);
    cr_expect_eq(bay__store_end(true, &err), 0, "ending with no hook open does nothing");
}

Test(store_hook, a_second_begin_is_refused_and_the_plugin_cannot_end_the_hooks_transaction)
{
    bay_error err;
    cr_assert_eq(bay__store_begin(&err), 0, "%s", err.message);
    cr_expect_eq(bay__store_begin(&err), BAY_ESTATE);
    cr_expect_eq(bay_store_sql("COMMIT", NULL, NULL, &err), BAY_EPERM);
    cr_assert_eq(put_int("k", 1, &err), 0, "%s", err.message);
    cr_assert_eq(bay__store_end(false, &err), 0, "%s", err.message);
    cr_expect(!has("k"));
}

Test(store_hook, a_statement_stops_once_its_call_is_cancelled)
{
    bay_invocation call = {.name = "store.sql", .deadline_ns = bay__now_ns() - 1};
    bay__w.calls = &call;
    bay_error err;
    int rc = bay_store_sql("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                           NULL, NULL, &err);
    bay__w.calls = NULL;
    cr_assert_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "stopped: the call was cancelled or its deadline passed"), "message: %s",
              err.message);
}

Test(store_hook, a_full_store_inside_a_hook_loses_the_hooks_transaction_and_says_so)
{
    bay_error err;
    void *zeros = calloc(1, 300 * 1024);
    bay_value *big = bay_bin(zeros, 300 * 1024);
    free(zeros);
    cr_assert_eq(put_int("before", 1, &err), 0, "%s", err.message);
    cr_assert_eq(bay__store_begin(&err), 0, "%s", err.message);
    int rc = 0;
    char key[] = "k0";
    for (; rc == 0 && key[1] < '9'; key[1]++)
        rc = bay_store_put(key, big, &err);
    bay_value_free(big);
    cr_assert_eq(rc, BAY_ENOSPC, "got %s: %s", bay_errname(rc), err.message);
    cr_expect_str_eq(err.message, "test/hook: storage is full: limits.storage_mb is 1 MiB");
    /* SQLite rolls the whole transaction back on SQLITE_FULL: the hook's later calls and its commit fail. */
    cr_expect_eq(put_int("after", 1, &err), BAY_ENOSPC);
    cr_expect(strstr(err.message, "test/hook: the hook's storage transaction was rolled back after a call failed "
                                  "with BAY_ENOSPC: nothing the hook wrote is kept"),
              "message: %s", err.message);
    cr_expect_eq(bay__store_end(true, &err), BAY_ENOSPC);
    cr_expect(!has("k0"));
    cr_expect(!has("after"));
    cr_expect(has("before"), "the store serves on after the hook");
}

Test(store_hook, a_value_nested_too_deep_to_read_back_is_refused_at_put)
{
    bay_value *v = bay_int(1);
    for (int i = 0; i < 40; i++) {
        bay_value *a = bay_array();
        bay_array_push(a, v);
        v = a;
    }
    bay_error err;
    cr_assert_eq(bay_store_put("deep", v, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "test/hook: bay_store_put(\"deep\"): the value could not be read back: "),
              "message: %s", err.message);
    cr_expect(!has("deep"));
    bay_value_free(v);
}
