/* tests/plugins/store/plugin.c — test/store: each bay_store_* function of plugin.h as an extension point. */
#include "test_plugin.h"

#include <stdlib.h>

/* failed hands the storage error e on to the caller of call. */
static int failed(bay_invocation *call, const bay_error *e)
{
    return bay_call_error(call, e->code, "%s", e->message);
}

/* store.put(key, value): bay_store_put; returns nil. */
static int store_put(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *key;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &key);
    if (rc == 0 && bay_store_put(key, bay_array_get(args, 1), &e) != 0)
        return failed(call, &e);
    (void)result;
    return rc;
}

/* store.put_size(key, bytes): stores a binary of that many bytes made here, so that no call carries it. */
static int store_put_size(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *key;
    int64_t n;
    int rc = bay_arg_str(call, args, 0, &key);
    if (rc == 0)
        rc = bay_arg_int(call, args, 1, &n);
    if (rc)
        return rc;
    char *bytes = calloc((size_t)n + 1, 1);
    bay_value *v = bytes ? bay_bin(bytes, (size_t)n) : NULL;
    free(bytes);
    bay_error e;
    rc = v ? bay_store_put(key, v, &e) : bay_error_set(&e, BAY_ENOMEM, NULL, "out of memory");
    bay_value_free(v);
    (void)result;
    return rc ? failed(call, &e) : 0;
}

/* store.get(key): bay_store_get's value. */
static int store_get(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *key;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &key);
    if (rc == 0 && bay_store_get(key, result, &e) != 0)
        return failed(call, &e);
    return rc;
}

/* store.delete(key): bay_store_delete; returns nil. */
static int store_delete(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *key;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &key);
    if (rc == 0 && bay_store_delete(key, &e) != 0)
        return failed(call, &e);
    (void)result;
    return rc;
}

/* store.keys(prefix): bay_store_keys' array (prefix nil or absent: every key). */
static int store_keys(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const bay_value *prefix = bay_array_get(args, 0);
    bay_error e;
    if (bay_store_keys(bay_value_str(prefix, NULL), result, &e) != 0)
        return failed(call, &e);
    return 0;
}

/* store.sql(sql, params): bay_store_sql's rows (params nil or absent: none). */
static int store_sql(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *sql;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &sql);
    if (rc == 0 && bay_store_sql(sql, bay_array_get(args, 1), result, &e) != 0)
        return failed(call, &e);
    return rc;
}

BAY_PLUGIN(NULL, NULL, {"store_put", store_put}, {"store_put_size", store_put_size}, {"store_get", store_get},
           {"store_delete", store_delete}, {"store_keys", store_keys}, {"store_sql", store_sql});
