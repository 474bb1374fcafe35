/* tests/plugins/wasm/state/plugin.c — wasm/state: its settings, its store, the hooks it ran (kept in memory and in
 * its store), an on_update that fails when its setting fail_update says so, bad pointers handed to the store. */
#include <stdio.h>
#include <string.h>

#include "plugbay_wasm.h"

static bay_out heard; /* the last on_settings' arguments as msgpack, [settings, changed]; empty before one */
static char ran[256]; /* the hooks this instance ran, space-separated, "on_update(1.0.0)" with its argument */

/* arg_cstr reads the next argument, a string, into buf as a NUL-terminated string. */
static int arg_cstr(bay_args *args, char *buf, size_t size)
{
    const char *s;
    uint32_t len;
    int rc = bay_arg_str(args, &s, &len);
    if (rc == 0 && len >= size)
        rc = bay_fail(BAY_EINVAL, "argument %u: %u bytes is too long", args->next, len);
    if (rc == 0) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    }
    return rc;
}

/* answer writes the value in (one whole value) reads to result; taken says to free in. */
static void answer(bay_out *result, bay_in *in, bool taken)
{
    bay_in end = *in;
    bay_in_skip(&end);
    bay_out_raw(result, in->p, (uint32_t)(end.p - in->p));
    if (taken)
        bay_in_free(in);
}

/* setting finds setting key in settings (read with bay_settings) into *value. */
static bool setting(const bay_in *settings, const char *key, bay_in *value)
{
    return bay_in_find(settings, key, value);
}

/* state.setting(key) answers the value of setting key. */
static int state_setting(bay_args *args, bay_out *result)
{
    char key[64];
    bay_in settings, value;
    int rc = arg_cstr(args, key, sizeof key);
    if (rc)
        return rc;
    if (!bay_settings(&settings))
        return bay_fail(BAY_ENOMEM, "no memory for the settings");
    if (setting(&settings, key, &value))
        answer(result, &value, false);
    else
        rc = bay_fail(BAY_ENOENT, "no setting %s", key);
    bay_in_free(&settings);
    return rc;
}
BAY_WASM_EXPORT(state_setting)

/* state.heard() answers what the last on_settings was given, or nil. */
static int state_heard(bay_args *args, bay_out *result)
{
    bay_out_raw(result, heard.data, heard.len);
    return 0;
}
BAY_WASM_EXPORT(state_heard)

/* state.hooks() answers {ran: the hooks this instance ran, kept: what the store kept of every hook that ran}. */
static int state_hooks(bay_args *args, bay_out *result)
{
    bay_in kept;
    bay_out_map(result, 2);
    bay_out_cstr(result, "ran");
    bay_out_cstr(result, ran);
    bay_out_cstr(result, "kept");
    if (bay_store_get("hooks", &kept, NULL, 0) == 0)
        answer(result, &kept, true);
    else
        bay_out_nil(result);
    return 0;
}
BAY_WASM_EXPORT(state_hooks)

/* note notes hook (with its argument) in ran and, appended to the list kept there, in the store. */
static int note(const char *hook)
{
    size_t n = strlen(ran);
    snprintf(ran + n, sizeof ran - n, "%s%s", n ? " " : "", hook);
    char all[256] = "", why[300];
    bay_in kept;
    const char *s;
    uint32_t len;
    if (bay_store_get("hooks", &kept, NULL, 0) == 0 && bay_in_str(&kept, &s, &len))
        snprintf(all, sizeof all, "%.*s ", (int)len, s);
    bay_in_free(&kept);
    strncat(all, hook, sizeof all - strlen(all) - 1);
    bay_out v = {0};
    bay_out_cstr(&v, all);
    int rc = bay_store_put("hooks", &v, why, sizeof why);
    bay_out_free(&v);
    return rc ? bay_fail(rc, "%s: the store: %s", hook, why) : 0;
}

static int on_install(bay_args *args, bay_out *result)
{
    return note("on_install");
}
BAY_WASM_EXPORT(on_install)

/* on_update(from) notes itself, stores "migrated" = from, then fails when setting fail_update is true. */
static int on_update(bay_args *args, bay_out *result)
{
    char from[64], what[96], why[300];
    bay_in settings, fail;
    bool told = false;
    int rc = arg_cstr(args, from, sizeof from);
    if (rc)
        return rc;
    snprintf(what, sizeof what, "on_update(%s)", from);
    if ((rc = note(what)))
        return rc;
    bay_out v = {0};
    bay_out_cstr(&v, from);
    rc = bay_store_put("migrated", &v, why, sizeof why);
    bay_out_free(&v);
    if (rc)
        return bay_fail(rc, "on_update: the store: %s", why);
    if (bay_settings(&settings) && setting(&settings, "fail_update", &fail))
        bay_in_bool(&fail, &told);
    bay_in_free(&settings);
    return told ? bay_fail(BAY_EPLUGIN, "cannot migrate from %s: told to fail", from) : 0;
}
BAY_WASM_EXPORT(on_update)

static int on_uninstall(bay_args *args, bay_out *result)
{
    bay_log(BAY_LOG_INFO, "on_uninstall ran");
    return note("on_uninstall");
}
BAY_WASM_EXPORT(on_uninstall)

/* on_settings(settings, changed) keeps its arguments for state.heard. */
static int on_settings(bay_args *args, bay_out *result)
{
    bay_out_free(&heard);
    bay_out_array(&heard, args->count);
    bay_out_raw(&heard, args->in.p, (uint32_t)(args->in.end - args->in.p));
    return 0;
}
BAY_WASM_EXPORT(on_settings)

/* state.put(key, value) stores value under key. */
static int state_put(bay_args *args, bay_out *result)
{
    char key[300], why[300];
    bay_in value;
    int rc = arg_cstr(args, key, sizeof key);
    if (rc == 0)
        rc = bay_arg_value(args, &value);
    if (rc)
        return rc;
    bay_out v = {0};
    answer(&v, &value, false);
    rc = bay_store_put(key, &v, why, sizeof why);
    bay_out_free(&v);
    return rc ? bay_fail(rc, "state.put: %s", why) : 0;
}
BAY_WASM_EXPORT(state_put)

/* state.get(key) answers the value stored under key. */
static int state_get(bay_args *args, bay_out *result)
{
    char key[300], why[300];
    bay_in value;
    int rc = arg_cstr(args, key, sizeof key);
    if (rc == 0 && (rc = bay_store_get(key, &value, why, sizeof why)))
        return bay_fail(rc, "state.get: %s", why);
    if (rc == 0)
        answer(result, &value, true);
    return rc;
}
BAY_WASM_EXPORT(state_get)

/* state.delete(key) removes key. */
static int state_delete(bay_args *args, bay_out *result)
{
    char key[300], why[300];
    int rc = arg_cstr(args, key, sizeof key);
    if (rc == 0 && (rc = bay_store_delete(key, why, sizeof why)))
        return bay_fail(rc, "state.delete: %s", why);
    return rc;
}
BAY_WASM_EXPORT(state_delete)

/* state.keys(prefix) answers the keys that start with prefix. */
static int state_keys(bay_args *args, bay_out *result)
{
    char prefix[300], why[300];
    bay_in keys;
    int rc = arg_cstr(args, prefix, sizeof prefix);
    if (rc == 0 && (rc = bay_store_keys(prefix, &keys, why, sizeof why)))
        return bay_fail(rc, "state.keys: %s", why);
    if (rc == 0)
        answer(result, &keys, true);
    return rc;
}
BAY_WASM_EXPORT(state_keys)

/* state.sql(sql[, params]) runs sql with params (an array or a map; nil or none: none) and answers its rows. */
static int state_sql(bay_args *args, bay_out *result)
{
    char sql[1000], why[300];
    bay_in params = {0}, rows;
    bay_out p = {0};
    int rc = arg_cstr(args, sql, sizeof sql);
    if (rc == 0 && args->count > 1)
        rc = bay_arg_value(args, &params);
    if (rc)
        return rc;
    bool some = args->count > 1 && bay_in_type(&params) != BAY_MP_NIL;
    if (some)
        answer(&p, &params, false);
    rc = bay_store_sql(sql, some ? &p : NULL, &rows, why, sizeof why);
    bay_out_free(&p);
    if (rc)
        return bay_fail(rc, "state.sql: %s", why);
    answer(result, &rows, true);
    return 0;
}
BAY_WASM_EXPORT(state_sql)

__attribute__((import_module("plugbay"), import_name("store_get"))) int32_t raw_store_get(uint32_t key, uint32_t len);
__attribute__((import_module("plugbay"), import_name("store_put"))) int32_t raw_store_put(uint32_t key, uint32_t len,
                                                                                        uint32_t value,
                                                                                        uint32_t value_len);
__attribute__((import_module("plugbay"), import_name("reply"))) uint32_t raw_reply(char *buf, uint32_t len);

/* state.bad(what) hands the store what is wrong: "key" a key outside the module's memory, "value" a value
 * running past its end (both trap), "nul" a key holding a NUL byte, "msgpack" a value that is not msgpack
 * (both answered: [code, message]). */
static int state_bad(bay_args *args, bay_out *result)
{
    char what[16], text[300];
    int rc = arg_cstr(args, what, sizeof what);
    if (rc)
        return rc;
    if (strcmp(what, "key") == 0)
        rc = raw_store_get(0xfffff000u, 100);
    else if (strcmp(what, "value") == 0)
        rc = raw_store_put((uint32_t)(uintptr_t) "bad", 3, 16, 0xfffffff0u);
    else if (strcmp(what, "nul") == 0)
        rc = raw_store_put((uint32_t)(uintptr_t) "a\0b", 3, (uint32_t)(uintptr_t) "\xc0", 1);
    else if (strcmp(what, "msgpack") == 0)
        rc = raw_store_put((uint32_t)(uintptr_t) "bad", 3, (uint32_t)(uintptr_t) "\xc1", 1);
    else
        return bay_fail(BAY_EINVAL, "state.bad: what is key, value, nul or msgpack, not %s", what);
    uint32_t n = raw_reply(text, sizeof text);
    bay_out_array(result, 2);
    bay_out_int(result, rc);
    bay_out_str(result, text, n <= sizeof text ? n : 0);
    return 0;
}
BAY_WASM_EXPORT(state_bad)
