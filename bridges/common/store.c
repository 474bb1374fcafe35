/* bridges/common/store.c — the plugin's storage (plugin.h): a key-value table and SQL on one SQLite database per plugin. */
#include "store.h"

#include "clock.h"
#include "send.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <plugbay/plugin.h>

#include "value_convert.h"

#define BAY_STORE_FILE ".plugbay-store.sqlite"
#define BAY_STORE_KEY_MAX 256
#define BAY_STORE_VALUE_MAX (1 << 20)
#define BAY_STORE_DEFAULT_MB 64
/* SQLite's largest string or blob, and a statement's text: a value and its key fit with room to spare. */
#define BAY_STORE_LENGTH_MAX (BAY_STORE_VALUE_MAX + 64 * 1024)
#define BAY_STORE_SQL_MAX (256 * 1024)
/* How many virtual-machine steps pass between two looks at the call's deadline. */
#define BAY_STORE_PROGRESS_STEPS 10000
/* How long a statement waits for the database another worker of the plugin holds (during a reload). */
#define BAY_STORE_BUSY_MS 5000

/* The worker's one connection to its plugin's database (main thread only). */
static struct {
    sqlite3 *db;        /* NULL until the first storage call */
    int64_t quota_mb;   /* limits.storage_mb */
    bool hook;          /* inside bay__store_begin .. bay__store_end */
    int hook_lost;      /* the code of the call after which SQLite rolled the hook's transaction back, or 0 */
    bool plugin_sql;    /* the statement being prepared or run is the plugin's: the authorizer judges it */
    char refusal[300];  /* why the authorizer refused the plugin's statement */
} st;

/* fail fills err with code and "<plugin id>: <printf-style message>", and returns code. */
static int fail(bay_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(bay_error *err, int code, const char *fmt, ...)
{
    char text[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return bay_error_set(err, code, bay_plugin_id(), "%s: %s", bay_plugin_id(), text);
}

/* call_stop returns why the call in hand must stop (bay_call_cancelled), or 0 (also outside a call). */
static int call_stop(void)
{
    pthread_mutex_lock(&bay__w.lock);
    int stop = bay__w.calls ? bay_call_cancelled(bay__w.calls) : 0;
    pthread_mutex_unlock(&bay__w.lock);
    return stop;
}

/* sqlite_fail maps SQLite's result rc (of what, such as "bay_store_sql") to
 * a plugbay code and fills err with SQLite's own words. */
static int sqlite_fail(int rc, const char *what, bay_error *err)
{
    const char *msg = st.db ? sqlite3_errmsg(st.db) : sqlite3_errstr(rc);
    if (st.refusal[0]) /* SQLite says SQLITE_AUTH, or SQLITE_ERROR for a function */
        return fail(err, BAY_EPERM, "%s: %s", what, st.refusal);
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return fail(err, BAY_ENOSPC, "storage is full: limits.storage_mb is %lld MiB", (long long)st.quota_mb);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (call_stop())
            return fail(err, call_stop(), "%s: stopped waiting for the database, locked by another worker of the "
                        "plugin: the call was cancelled or its deadline passed", what);
        return fail(err, BAY_EBUSY, "%s: the database stayed locked for %d ms (another worker of the plugin, during "
                    "a reload, held it): %s", what, BAY_STORE_BUSY_MS, msg);
    case SQLITE_NOMEM:
        return fail(err, BAY_ENOMEM, "%s: out of memory", what);
    case SQLITE_INTERRUPT: {
        int stop = call_stop();
        return fail(err, stop ? stop : BAY_ECANCELED, "%s: stopped: the call was cancelled or its deadline passed",
                    what);
    }
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
        return fail(err, BAY_EINVAL, "%s: %s", what, msg);
    default:
        return fail(err, BAY_EIO, "%s: %s (%s)", what, msg, bay_plugin_data_dir());
    }
}

/* ---- what the plugin's SQL may do ---------------------------------------- */

/* refuse records why the plugin's statement is refused and returns SQLITE_DENY. */
static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int refuse(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st.refusal, sizeof st.refusal, fmt, ap);
    va_end(ap);
    return SQLITE_DENY;
}

/* table_named_second tells whether action's second argument, not only its first, names a table. */
static bool table_named_second(int action)
{
    return action == SQLITE_CREATE_INDEX || action == SQLITE_CREATE_TEMP_INDEX || action == SQLITE_DROP_INDEX ||
           action == SQLITE_DROP_TEMP_INDEX || action == SQLITE_CREATE_TRIGGER ||
           action == SQLITE_CREATE_TEMP_TRIGGER || action == SQLITE_DROP_TRIGGER ||
           action == SQLITE_DROP_TEMP_TRIGGER || action == SQLITE_ALTER_TABLE;
}

/* schema_table tells whether name is SQLite's schema table, which SQLite itself
 * keeps from direct writes (and from PRAGMA writable_schema: DEFENSIVE) and
 * writes as CREATE and DROP run. */
static bool schema_table(const char *name)
{
    return strcasecmp(name, "sqlite_master") == 0 || strcasecmp(name, "sqlite_schema") == 0 ||
           strcasecmp(name, "sqlite_temp_master") == 0 || strcasecmp(name, "sqlite_temp_schema") == 0;
}

/* refuse_table judges a table (or index, trigger, view) name the plugin's statement touches by action. */
static int refuse_table(int action, const char *name)
{
    if (name == NULL)
        return SQLITE_OK;
    if (strncasecmp(name, "bay_", 4) == 0)
        return refuse("table \"%s\" is refused: names starting with \"bay_\" are the store's own (the key-value "
                      "store is bay_store_get/put/delete/keys)", name);
    bool write = action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE;
    if (write && strncasecmp(name, "sqlite_", 7) == 0 && !schema_table(name))
        return refuse("writing \"%s\" is refused: names starting with \"sqlite_\" are SQLite's own", name);
    return SQLITE_OK;
}

/* authorize is SQLite's authorizer: it lets the store's own statements pass
 * and refuses, in the plugin's, what would reach beyond its tables or
 * change how the database is kept. */
static int authorize(void *ud, int action, const char *a1, const char *a2, const char *db, const char *inner)
{
    (void)ud, (void)db, (void)inner;
    if (!st.plugin_sql)
        return SQLITE_OK;
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return refuse("ATTACH and DETACH are refused: a plugin has one database");
    case SQLITE_PRAGMA:
        return refuse("PRAGMA %s is refused: the store sets its own pragmas", a1);
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return refuse("BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE are refused: each storage call is a "
                      "transaction of its own (and on_install/on_update run in one)");
    case SQLITE_FUNCTION:
        return strcasecmp(a2, "load_extension") == 0
                   ? refuse("load_extension() is refused: a plugin loads no SQLite extension")
                   : SQLITE_OK;
    default: {
        int rc = action == SQLITE_ALTER_TABLE ? SQLITE_OK : refuse_table(action, a1);
        return rc == SQLITE_OK && table_named_second(action) ? refuse_table(action, a2) : rc;
    }
    }
}

/* progress stops a statement (SQLITE_INTERRUPT) once the call it runs in is cancelled or past its deadline. */
static int progress(void *ud)
{
    (void)ud;
    return call_stop();
}

/* busy is SQLite's busy handler: while another connection holds the
 * database it waits, 5 ms at a time, up to BAY_STORE_BUSY_MS in all and no
 * longer than the call it runs in may (a worker stuck past its call's
 * deadline would be killed). Returns 1 to try again, 0 to give up (SQLITE_BUSY). */
static int busy(void *ud, int tries)
{
    static int64_t since_ns;
    (void)ud;
    if (tries == 0)
        since_ns = bay__now_ns();
    if (call_stop() || bay__now_ns() - since_ns >= (int64_t)BAY_STORE_BUSY_MS * 1000000)
        return 0;
    sqlite3_sleep(5);
    return 1;
}

/* ---- opening ------------------------------------------------------------- */

/* exec runs the store's own sql (no rows wanted); returns SQLite's code. */
static int exec(const char *sql)
{
    return sqlite3_exec(st.db, sql, NULL, NULL, NULL);
}

/* harden sets the connection's limits and refusals before any statement runs. */
static int harden(void)
{
    int rc = sqlite3_db_config(st.db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(st.db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_db_config(st.db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_enable_load_extension(st.db, 0);
    sqlite3_limit(st.db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(st.db, SQLITE_LIMIT_LENGTH, BAY_STORE_LENGTH_MAX);
    sqlite3_limit(st.db, SQLITE_LIMIT_SQL_LENGTH, BAY_STORE_SQL_MAX);
    sqlite3_extended_result_codes(st.db, 1);
    sqlite3_busy_handler(st.db, busy, NULL);
    sqlite3_progress_handler(st.db, BAY_STORE_PROGRESS_STEPS, progress, NULL);
    return rc == SQLITE_OK ? sqlite3_set_authorizer(st.db, authorize, NULL) : rc;
}

/* set_quota caps the database at limits.storage_mb with PRAGMA max_page_count. */
static int set_quota(void)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st.db, "PRAGMA page_size", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    int64_t page = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 4096;
    sqlite3_finalize(s);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)((st.quota_mb << 20) / page));
    return exec(sql);
}

/* open_db opens the plugin's database when it is not open yet. WAL lets a
 * reload's two workers share it; temp_store=MEMORY keeps SQLite's temporary
 * files (statement journals, sorts) in memory, as the sandbox lets the worker
 * write only in its data folder. Returns 0, or a code with err. */
static int open_db(bay_error *err)
{
    if (st.db)
        return 0;
    const char *dir = bay_plugin_data_dir();
    if (dir == NULL)
        return fail(err, BAY_EUNAVAIL, "storage is not available before the plugin is loaded");
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, BAY_STORE_FILE) >= sizeof path)
        return fail(err, BAY_EIO, "data folder path too long for its store: %s", dir);
    st.quota_mb = bay__plugin_limit(&bay__w.info, "storage_mb", BAY_STORE_DEFAULT_MB);
    int rc = sqlite3_open_v2(path, &st.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK)
        rc = harden();
    if (rc == SQLITE_OK)
        rc = exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;"
                  "CREATE TABLE IF NOT EXISTS bay_kv(key TEXT PRIMARY KEY, value BLOB)");
    if (rc == SQLITE_OK)
        rc = set_quota();
    if (rc == SQLITE_OK)
        return 0;
    int code = fail(err, BAY_EIO, "cannot open its store %s: %s", path,
                    st.db ? sqlite3_errmsg(st.db) : sqlite3_errstr(rc));
    sqlite3_close_v2(st.db);
    st.db = NULL;
    return code;
}

/* ---- one call ------------------------------------------------------------ */

/* lost refuses a storage call (and the commit) of a hook whose transaction
 * SQLite rolled back after a call failed with st.hook_lost (SQLITE_FULL,
 * SQLITE_BUSY and I/O errors may end the whole transaction). */
static int lost(bay_error *err)
{
    return fail(err, st.hook_lost, "the hook's storage transaction was rolled back after a call failed with %s: "
                "nothing the hook wrote is kept", bay_errname(st.hook_lost));
}

/* A storage call's body, run by run_call with its own arguments. */
typedef int (*store_op)(const void *in, bay_value **out, bay_error *err);

/* run_call opens the database and runs op as one transaction: a statement
 * commits on its own outside a hook; inside one, a savepoint lets a call
 * that fails leave the hook's transaction as it was. */
static int run_call(store_op op, const void *in, bay_value **out, bay_error *err)
{
    int rc = open_db(err);
    if (rc)
        return rc;
    if (!st.hook)
        return op(in, out, err);
    if (st.hook_lost)
        return lost(err);
    if ((rc = exec("SAVEPOINT bay_call")) != SQLITE_OK)
        return sqlite_fail(rc, "SAVEPOINT", err);
    rc = op(in, out, err);
    if (rc && !sqlite3_get_autocommit(st.db))
        exec("ROLLBACK TO bay_call");
    st.hook_lost = sqlite3_get_autocommit(st.db) ? rc : 0;
    if (!st.hook_lost)
        exec("RELEASE bay_call");
    return rc;
}

/* prepare compiles the store's own statement sql, filling err on failure. */
static int prepare(const char *sql, sqlite3_stmt **s, bay_error *err)
{
    int rc = sqlite3_prepare_v2(st.db, sql, -1, s, NULL);
    return rc == SQLITE_OK ? 0 : sqlite_fail(rc, sql, err);
}

/* finish finalizes s after its last step gave rc (SQLITE_DONE is success). */
static int finish(sqlite3_stmt *s, int rc, const char *what, bay_error *err)
{
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : sqlite_fail(rc, what, err);
}

/* check_key refuses a key outside 1 to 256 bytes, naming what wanted it. */
static int check_key(const char *key, const char *what, bay_error *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n < 1 || n > BAY_STORE_KEY_MAX)
        return fail(err, BAY_EINVAL, "%s: a key must be 1 to %d bytes, got %zu", what, BAY_STORE_KEY_MAX, n);
    return 0;
}

/* ---- key-value ----------------------------------------------------------- */

/* A put's arguments: the key and the value packed. */
typedef struct put_in {
    const char *key;
    const void *packed;
    size_t len;
} put_in;

/* kv_get fetches and unpacks the value under key (in) into *out. */
static int kv_get(const void *in, bay_value **out, bay_error *err)
{
    const char *key = in;
    sqlite3_stmt *s;
    int rc = prepare("SELECT value FROM bay_kv WHERE key = ?1", &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        return rc == SQLITE_DONE ? fail(err, BAY_ENOENT, "bay_store_get: nothing is stored under key \"%s\"", key)
                                 : sqlite_fail(rc, "bay_store_get", err);
    }
    char why[200] = "";
    rc = bay_value_unpack(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), out, why, sizeof why);
    sqlite3_finalize(s);
    return rc ? fail(err, BAY_EIO, "bay_store_get: the value under key \"%s\" is damaged: %s", key, why) : 0;
}

/* kv_put stores the packed value of put_in (in) under its key. */
static int kv_put(const void *in, bay_value **out, bay_error *err)
{
    (void)out;
    const put_in *p = in;
    sqlite3_stmt *s;
    int rc = prepare("INSERT OR REPLACE INTO bay_kv(key, value) VALUES (?1, ?2)", &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, p->key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, p->packed, (int)p->len, SQLITE_STATIC);
    return finish(s, sqlite3_step(s), "bay_store_put", err);
}

/* kv_delete removes the key (in). */
static int kv_delete(const void *in, bay_value **out, bay_error *err)
{
    (void)out;
    sqlite3_stmt *s;
    int rc = prepare("DELETE FROM bay_kv WHERE key = ?1", &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, in, -1, SQLITE_STATIC);
    return finish(s, sqlite3_step(s), "bay_store_delete", err);
}

/* kv_keys lists in *out, in byte order, the keys starting with the prefix (in). */
static int kv_keys(const void *in, bay_value **out, bay_error *err)
{
    const char *prefix = in;
    size_t n = strlen(prefix);
    sqlite3_stmt *s;
    int rc = prepare("SELECT key FROM bay_kv WHERE key >= ?1 ORDER BY key", &s, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, prefix, (int)n, SQLITE_STATIC);
    bay_value *keys = bay_array();
    while (keys && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        if (strncmp(key, prefix, n) != 0) {
            rc = SQLITE_DONE; /* past the keys with the prefix, as they are sorted */
            break;
        }
        if (bay_array_push(keys, bay_strn(key, (size_t)sqlite3_column_bytes(s, 0))) != 0)
            rc = SQLITE_NOMEM;
    }
    rc = keys ? finish(s, rc, "bay_store_keys", err) : (sqlite3_finalize(s), fail(err, BAY_ENOMEM, "out of memory"));
    return bay__value_settle(keys, rc, out);
}

/* readable refuses a packed value bay_store_get could not unpack (containers
 * nested deeper than the msgpack decoder goes), before it is stored. */
static int readable(const put_in *p, bay_error *err)
{
    bay_value *back = NULL;
    char why[200] = "";
    int rc = bay_value_unpack(p->packed, p->len, &back, why, sizeof why);
    bay_value_free(back);
    return rc ? fail(err, BAY_EINVAL, "bay_store_put(\"%s\"): the value could not be read back: %s", p->key, why) : 0;
}

int bay_store_get(const char *key, bay_value **out, bay_error *err)
{
    *out = NULL;
    int rc = check_key(key, "bay_store_get", err);
    return rc ? rc : run_call(kv_get, key, out, err);
}

int bay_store_put(const char *key, const bay_value *value, bay_error *err)
{
    int rc = check_key(key, "bay_store_put", err);
    if (rc)
        return rc;
    if (value == NULL)
        return fail(err, BAY_EINVAL, "bay_store_put(\"%s\"): the value is NULL (store bay_nil() for nil)", key);
    put_in p = {key, NULL, 0};
    void *packed = NULL;
    if (bay_value_pack(value, &packed, &p.len) != 0)
        return fail(err, BAY_ENOMEM, "bay_store_put(\"%s\"): out of memory", key);
    p.packed = packed;
    if (p.len > BAY_STORE_VALUE_MAX)
        rc = fail(err, BAY_EINVAL, "bay_store_put(\"%s\"): the value packs to %zu bytes, over the limit of %d (1 MiB)",
                  key, p.len, BAY_STORE_VALUE_MAX);
    else if ((rc = readable(&p, err)) == 0)
        rc = run_call(kv_put, &p, NULL, err);
    free(packed);
    return rc;
}

int bay_store_delete(const char *key, bay_error *err)
{
    int rc = check_key(key, "bay_store_delete", err);
    return rc ? rc : run_call(kv_delete, key, NULL, err);
}

int bay_store_keys(const char *prefix, bay_value **out, bay_error *err)
{
    *out = NULL;
    return run_call(kv_keys, prefix ? prefix : "", out, err);
}

/* ---- SQL ----------------------------------------------------------------- */

/* bind_one binds v to parameter i of s; what names the parameter in a refusal. */
static int bind_one(sqlite3_stmt *s, int i, const bay_value *v, const char *what, bay_error *err)
{
    size_t len;
    const char *bytes = bay_value_str(v, &len);
    int rc;
    switch (bay_value_type(v)) {
    case BAY_NIL: rc = sqlite3_bind_null(s, i); break;
    case BAY_BOOL: rc = sqlite3_bind_int(s, i, bay_value_bool(v)); break;
    case BAY_INT: rc = sqlite3_bind_int64(s, i, bay_value_int(v)); break;
    case BAY_FLOAT: rc = sqlite3_bind_double(s, i, bay_value_float(v)); break;
    case BAY_STR: rc = sqlite3_bind_text64(s, i, bytes, len, SQLITE_STATIC, SQLITE_UTF8); break;
    case BAY_BIN: rc = sqlite3_bind_blob64(s, i, bytes, len, SQLITE_STATIC); break;
    default:
        return fail(err, BAY_EINVAL, "bay_store_sql: parameter %s is %s: only nil, bool, int, float, str and bin bind",
                    what, bay_type_name(bay_value_type(v)));
    }
    return rc == SQLITE_OK ? 0 : sqlite_fail(rc, "bay_store_sql", err);
}

/* bind_array binds the items of params to the parameters by position. */
static int bind_array(sqlite3_stmt *s, const bay_value *params, bay_error *err)
{
    size_t want = (size_t)sqlite3_bind_parameter_count(s), got = bay_value_len(params);
    if (got != want)
        return fail(err, BAY_EINVAL, "bay_store_sql: the statement has %zu parameter%s, the array gives %zu", want,
                    want == 1 ? "" : "s", got);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < want; i++) {
        char what[32];
        snprintf(what, sizeof what, "%zu", i + 1);
        rc = bind_one(s, (int)i + 1, bay_array_get(params, i), what, err);
    }
    return rc;
}

/* bind_map binds the entries of params to the parameters by name (:name,
 * @name or $name, written in the map without the sign); every parameter must
 * be given and every entry must name one. */
static int bind_map(sqlite3_stmt *s, const bay_value *params, bay_error *err)
{
    int n = sqlite3_bind_parameter_count(s), rc = 0;
    for (int i = 1; rc == 0 && i <= n; i++) {
        const char *name = sqlite3_bind_parameter_name(s, i);
        if (name == NULL)
            return fail(err, BAY_EINVAL, "bay_store_sql: parameter %d has no name: give parameters as an array", i);
        const bay_value *v = bay_map_get(params, name + 1);
        if (v == NULL)
            return fail(err, BAY_EINVAL, "bay_store_sql: parameter %s is missing from the map", name);
        rc = bind_one(s, i, v, name, err);
    }
    for (size_t e = 0; rc == 0 && e < bay_value_len(params); e++) {
        const char *key = bay_map_entry(params, e, NULL);
        char name[300];
        bool found = false;
        for (const char *sign = ":@$"; *sign && !found; sign++) {
            snprintf(name, sizeof name, "%c%s", *sign, key);
            found = sqlite3_bind_parameter_index(s, name) > 0;
        }
        if (!found)
            return fail(err, BAY_EINVAL, "bay_store_sql: the map's key \"%s\" names no parameter of the statement", key);
    }
    return rc;
}

/* bind_params binds params (NULL or nil: none; an array; a map) to s. */
static int bind_params(sqlite3_stmt *s, const bay_value *params, bay_error *err)
{
    switch (bay_value_type(params)) {
    case BAY_NIL: return bind_array(s, params, err); /* none: the statement must want none */
    case BAY_ARRAY: return bind_array(s, params, err);
    case BAY_MAP: return bind_map(s, params, err);
    default:
        return fail(err, BAY_EINVAL, "bay_store_sql: params must be an array, a map or nil, got %s",
                    bay_type_name(bay_value_type(params)));
    }
}

/* column returns column i of s's current row as a new value. */
static bay_value *column(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER: return bay_int(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT: return bay_float(sqlite3_column_double(s, i));
    case SQLITE_TEXT: {
        const char *text = (const char *)sqlite3_column_text(s, i);
        return bay_strn(text, (size_t)sqlite3_column_bytes(s, i));
    }
    case SQLITE_BLOB: {
        const void *blob = sqlite3_column_blob(s, i);
        return bay_bin(blob, (size_t)sqlite3_column_bytes(s, i));
    }
    default: return bay_nil();
    }
}

/* collect steps s to its end, adding one map of column name to value per row to rows. */
static int collect(sqlite3_stmt *s, bay_value *rows, bay_error *err)
{
    int rc, n = sqlite3_column_count(s);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        bay_value *row = bay_map();
        for (int i = 0; row && i < n; i++)
            if (bay_map_set(row, sqlite3_column_name(s, i), column(s, i)) != 0) {
                bay_value_free(row);
                row = NULL;
            }
        if (row == NULL || bay_array_push(rows, row) != 0)
            return fail(err, BAY_ENOMEM, "bay_store_sql: out of memory for the rows");
    }
    return rc == SQLITE_DONE ? 0 : sqlite_fail(rc, "bay_store_sql", err);
}

/* only_blanks tells whether sql holds nothing but spaces, semicolons and comments. */
static bool only_blanks(const char *sql)
{
    for (;;) {
        sql += strspn(sql, " \t\r\n\f\v;");
        if (strncmp(sql, "--", 2) == 0)
            sql += strcspn(sql, "\n");
        else if (strncmp(sql, "/*", 2) == 0)
            sql = strstr(sql + 2, "*/") ? strstr(sql + 2, "*/") + 2 : sql + strlen(sql);
        else
            return *sql == '\0';
    }
}

/* The arguments of one bay_store_sql. */
typedef struct sql_in {
    const char *sql;
    const bay_value *params;
} sql_in;

/* sql_run prepares the plugin's statement under the authorizer, binds its
 * parameters and collects its rows into *out. */
static int sql_run(const void *in, bay_value **out, bay_error *err)
{
    const sql_in *q = in;
    sqlite3_stmt *s = NULL;
    const char *tail = NULL;
    st.plugin_sql = true;
    int rc = sqlite3_prepare_v2(st.db, q->sql, -1, &s, &tail);
    if (rc != SQLITE_OK)
        rc = sqlite_fail(rc, "bay_store_sql", err);
    else if (s == NULL)
        rc = fail(err, BAY_EINVAL, "bay_store_sql: the SQL holds no statement");
    else if (!only_blanks(tail))
        rc = fail(err, BAY_EINVAL, "bay_store_sql runs exactly one statement; more follows: \"%.60s\"", tail);
    else
        rc = bind_params(s, q->params, err);
    bay_value *rows = rc == 0 ? bay_array() : NULL;
    if (rc == 0)
        rc = rows ? collect(s, rows, err) : fail(err, BAY_ENOMEM, "bay_store_sql: out of memory");
    sqlite3_finalize(s);
    st.plugin_sql = false;
    st.refusal[0] = '\0';
    return bay__value_settle(rows, rc, out);
}

int bay_store_sql(const char *sql, const bay_value *params, bay_value **out, bay_error *err)
{
    bay_value *rows = NULL;
    if (out)
        *out = NULL;
    if (sql == NULL)
        return fail(err, BAY_EINVAL, "bay_store_sql: the SQL is NULL");
    sql_in q = {sql, params};
    int rc = run_call(sql_run, &q, &rows, err);
    if (out)
        *out = rows;
    else
        bay_value_free(rows);
    return rc;
}

/* ---- hooks --------------------------------------------------------------- */

int bay__store_begin(bay_error *err)
{
    int rc = open_db(err);
    if (rc)
        return rc;
    if (st.hook)
        return fail(err, BAY_ESTATE, "a hook's storage transaction is already open");
    if ((rc = exec("BEGIN IMMEDIATE")) != SQLITE_OK)
        return sqlite_fail(rc, "BEGIN IMMEDIATE", err);
    st.hook = true;
    st.hook_lost = 0;
    return 0;
}

int bay__store_end(bool commit, bay_error *err)
{
    if (!st.hook)
        return 0;
    st.hook = false;
    if (st.hook_lost)
        return commit ? lost(err) : 0;
    int rc = exec(commit ? "COMMIT" : "ROLLBACK");
    if (rc == SQLITE_OK)
        return 0;
    rc = sqlite_fail(rc, commit ? "COMMIT" : "ROLLBACK", err);
    if (!sqlite3_get_autocommit(st.db))
        exec("ROLLBACK");
    return rc;
}

void bay__store_close(void)
{
    if (st.hook)
        bay__store_end(false, NULL);
    sqlite3_close_v2(st.db);
    st.db = NULL;
}
