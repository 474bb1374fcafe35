/* tests/e2e/test_python_settings.c — a Python plugin's settings (plugbay.settings, setting, on_settings), its
 * storage (plugbay.store and its SQL, plugbay.StoreError) and its hooks (on_install, on_update, on_uninstall). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* start_with starts plugbayd with plugin id and waits until it is loaded. */
static void start_with(const char *id)
{
    const char *ids[] = {id, NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-python-settings");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

/* answer calls name with args_json and returns its result as JSON, or "failed: BAY_X: message" (static). */
static const char *answer(const char *name, const char *args_json)
{
    static char out[2048];
    bay_value *res = NULL;
    bay_error e;
    int rc = h_call_json(c, name, args_json, 5000, &res, &e);
    char *json = NULL;
    if (rc == 0)
        bay_value_to_json(res, &json);
    if (rc)
        snprintf(out, sizeof out, "failed: %s: %s", bay_errname(rc), e.message);
    else
        snprintf(out, sizeof out, "%s", json ? json : "?");
    free(json);
    bay_value_free(res);
    return out;
}

/* ---- settings ------------------------------------------------------------------ */

static void start_settings(void)
{
    start_with("python/settings");
}

TestSuite(python_settings, .init = start_settings, .fini = stop, .timeout = 120);

/* What a call should answer: its JSON holds part. */
struct wanted {
    const char *name, *args, *part;
};

/* answers tells whether w->name answers JSON holding w->part, for h_wait_until. */
static bool answers(void *arg)
{
    const struct wanted *w = arg;
    return strstr(answer(w->name, w->args), w->part) != NULL;
}

Test(python_settings, settings_are_read_with_their_defaults_and_an_undeclared_one_is_none)
{
    cr_assert_str_eq(answer("pysettings.greeting", "[]"), "\"Hello\"");
    cr_assert_str_eq(answer("pysettings.setting", "[\"retries\"]"), "3");
    cr_assert_str_eq(answer("pysettings.setting", "[\"loud\"]"), "false");
    cr_assert_str_eq(answer("pysettings.setting", "[\"nope\"]"), "null");
    bay_value *all = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, "pysettings.all", "[]", 5000, &all, &e), 0, "%s", e.message);
    cr_assert_eq(bay_value_len(all), 3);
    cr_assert_str_eq(bay_value_str(bay_map_get(all, "greeting"), NULL), "Hello");
    cr_assert_eq(bay_value_int(bay_map_get(all, "retries")), 3);
    cr_assert_eq(bay_value_type(bay_map_get(all, "loud")), BAY_BOOL);
    bay_value_free(all);
    cr_assert_str_eq(answer("pysettings.heard", "[]"), "null", "on_settings ran before any change");
}

Test(python_settings, a_setting_changed_by_a_host_is_read_without_a_restart_and_on_settings_hears_it)
{
    pid_t worker = h_worker_pid(c, "python/settings");
    bay_error e;
    cr_assert_eq(h_set_setting(c, "python/settings", "greeting", "\"Howdy\"", &e), 0, "%s", e.message);
    struct wanted howdy = {"pysettings.greeting", "[]", "\"Howdy\""};
    cr_assert(h_wait_until(answers, &howdy, H_WAIT_MS), "it greets with %s", answer("pysettings.greeting", "[]"));
    cr_assert_eq(h_worker_pid(c, "python/settings"), worker, "the worker was restarted");
    /* on_settings(settings, changed) got a dict of every setting and a list of the keys changed. */
    bay_value *heard = NULL;
    cr_assert_eq(h_call_json(c, "pysettings.heard", "[]", 5000, &heard, &e), 0, "%s", e.message);
    const bay_value *settings = bay_array_get(heard, 0), *changed = bay_array_get(heard, 1);
    cr_assert_str_eq(bay_value_str(bay_map_get(settings, "greeting"), NULL), "Howdy");
    cr_assert_eq(bay_value_int(bay_map_get(settings, "retries")), 3);
    cr_assert_eq(bay_value_len(changed), 1);
    cr_assert_str_eq(bay_value_str(bay_array_get(changed, 0), NULL), "greeting");
    cr_assert_str_eq(bay_value_str(bay_array_get(heard, 2), NULL), "dict list");
    bay_value_free(heard);
    /* plugbay.settings() is new at each call. */
    cr_assert_eq(h_set_setting(c, "python/settings", "retries", "7", &e), 0, "%s", e.message);
    struct wanted seven = {"pysettings.all", "[]", "\"retries\":7"};
    cr_assert(h_wait_until(answers, &seven, H_WAIT_MS), "settings() answers %s", answer("pysettings.all", "[]"));
}

Test(python_settings, an_on_settings_that_raises_is_logged_and_the_new_value_holds)
{
    bay_error e;
    cr_assert_eq(h_set_setting(c, "python/settings", "greeting", "\"Boom\"", &e), 0, "%s", e.message);
    cr_assert(h_wait_log(&h, "hook:settings failed: ValueError: cannot greet with Boom (at main.py:"),
              "the failure of on_settings is not logged");
    struct wanted boom = {"pysettings.greeting", "[]", "\"Boom\""};
    cr_assert(h_wait_until(answers, &boom, H_WAIT_MS), "it greets with %s", answer("pysettings.greeting", "[]"));
}

/* ---- storage ------------------------------------------------------------------- */

static void start_store(void)
{
    start_with("python/store");
}

TestSuite(python_store, .init = start_store, .fini = stop, .timeout = 120);

/* call_values calls name with args (taken) and returns its code; *res is the result the caller frees. */
static int call_values(const char *name, bay_value *args, bay_value **res, bay_error *err)
{
    *res = NULL;
    int rc = bay_call(c, name, args, NULL, res, err);
    bay_value_free(args);
    return rc;
}

Test(python_store, values_round_trip_through_the_store_and_keys_list_by_prefix)
{
    bay_value *value = bay_map(), *list = bay_array(), *args = bay_array(), *res;
    bay_map_set(value, "bin", bay_bin("a\0b\xff", 4));
    bay_map_set(value, "f", bay_float(-0.5));
    bay_map_set(value, "nil", bay_nil());
    bay_array_push(list, bay_int(INT64_MIN));
    bay_array_push(list, bay_bool(true));
    bay_array_push(list, bay_str("h\xc3\xa9llo"));
    bay_map_set(value, "list", list);
    bay_array_push(args, bay_str("a/1"));
    bay_array_push(args, bay_value_copy(value));
    bay_error e;
    cr_assert_eq(call_values("pystore.put", args, &res, &e), 0, "%s", e.message);
    bay_value_free(res);
    cr_assert_eq(h_call_json(c, "pystore.get", "[\"a/1\"]", 5000, &res, &e), 0, "%s", e.message);
    cr_assert(bay_value_equal(res, value), "a/1 came back changed");
    bay_value_free(res);
    bay_value_free(value);
    cr_assert_str_eq(answer("pystore.get", "[\"none\", \"default\"]"), "\"default\"");
    cr_assert_str_eq(answer("pystore.get", "[\"none\"]"), "null");
    cr_assert_str_eq(answer("pystore.put", "[\"a/2\", 2]"), "null");
    cr_assert_str_eq(answer("pystore.put", "[\"b/1\", \"b\"]"), "null");
    cr_assert_str_eq(answer("pystore.keys", "[\"a/\"]"), "[\"a/1\",\"a/2\"]");
    cr_assert_str_eq(answer("pystore.keys", "[]"), "[\"a/1\",\"a/2\",\"b/1\",\"hooks\"]");
    cr_assert_str_eq(answer("pystore.delete", "[\"a/1\"]"), "null");
    cr_assert_str_eq(answer("pystore.delete", "[\"a/1\"]"), "null", "deleting what is not there fails");
    cr_assert_str_eq(answer("pystore.get", "[\"a/1\", 0]"), "0");
    /* Kept by a new worker. */
    cr_assert_eq(h_command(c, "reload", "python/store", &e), 0, "%s", e.message);
    cr_assert_str_eq(answer("pystore.keys", "[]"), "[\"a/2\",\"b/1\",\"hooks\"]");
    cr_assert_str_eq(answer("pystore.get", "[\"b/1\"]"), "\"b\"");
}

Test(python_store, sql_binds_list_and_dict_params_and_answers_rows_as_dicts)
{
    cr_assert_str_eq(answer("pystore.sql", "[\"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL, "
                                           "raw BLOB)\"]"),
                     "[]");
    bay_value *args = bay_array(), *params = bay_array(), *res;
    bay_array_push(params, bay_int(1));
    bay_array_push(params, bay_str("first"));
    bay_array_push(params, bay_float(0.5));
    bay_array_push(params, bay_bin("\0\1", 2));
    bay_array_push(args, bay_str("INSERT INTO notes VALUES (?, ?, ?, ?)"));
    bay_array_push(args, params);
    bay_error e;
    cr_assert_eq(call_values("pystore.sql", args, &res, &e), 0, "%s", e.message);
    bay_value_free(res);
    cr_assert_str_eq(answer("pystore.sql", "[\"INSERT INTO notes (id, body, score) VALUES (:id, :body, :score)\", "
                                           "{\"id\": 2, \"body\": \"second\", \"score\": null}]"),
                     "[]");
    cr_assert_str_eq(answer("pystore.sql", "[\"SELECT id, body, score FROM notes WHERE id >= ? ORDER BY id\", [1]]"),
                     "[{\"id\":1,\"body\":\"first\",\"score\":0.5},{\"id\":2,\"body\":\"second\",\"score\":null}]");
    cr_assert_eq(h_call_json(c, "pystore.sql", "[\"SELECT raw FROM notes WHERE id = :id\", {\"id\": 1}]", 5000, &res,
                             &e),
                 0, "%s", e.message);
    size_t len = 0;
    const char *raw = bay_value_str(bay_map_get(bay_array_get(res, 0), "raw"), &len);
    cr_assert(bay_value_type(bay_map_get(bay_array_get(res, 0), "raw")) == BAY_BIN && len == 2 && raw[1] == 1,
              "the blob came back changed");
    bay_value_free(res);
}

Test(python_store, sql_the_store_refuses_raises_store_error_with_bay_eperm_and_the_plugin_answers_on)
{
    bay_value *res;
    bay_error e;
    cr_assert_eq(h_call_json(c, "pystore.sql_caught", "[\"ATTACH DATABASE '/tmp/other.db' AS other\"]", 5000, &res,
                             &e),
                 0, "%s", e.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "name"), NULL), "BAY_EPERM");
    cr_assert_eq(bay_value_int(bay_map_get(res, "code")), BAY_EPERM);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "plugin"), NULL), "python/store");
    cr_assert(bay_value_bool(bay_map_get(res, "call_error")), "StoreError is no plugbay.CallError");
    cr_assert(strlen(bay_value_str(bay_map_get(res, "message"), NULL)) > 0, "StoreError says nothing");
    bay_value_free(res);
    /* Not caught, it reaches the caller as the plugin's exception, with the plugin's line. */
    cr_assert_eq(h_call_json(c, "pystore.sql", "[\"ATTACH DATABASE '/tmp/other.db' AS other\"]", 5000, &res, &e),
                 BAY_EPLUGIN);
    cr_assert(strstr(e.message, "StoreError: ") && strstr(e.message, "at main.py:"), "%s", e.message);
    cr_assert_str_eq(answer("pystore.sql", "[\"SELECT 1 AS one\"]"), "[{\"one\":1}]");
}

Test(python_store, values_and_params_python_cannot_store_are_a_type_error_naming_their_place)
{
    bay_value *res;
    bay_error e;
    cr_assert_eq(h_call_json(c, "pystore.put_set", "[\"k\"]", 5000, &res, &e), BAY_EPLUGIN);
    cr_assert(strstr(e.message, "TypeError: plugbay.store.put: value[\"ok\"][1] has type set"), "%s", e.message);
    cr_assert_eq(h_call_json(c, "pystore.sql", "[\"SELECT ?\", \"1\"]", 5000, &res, &e), BAY_EPLUGIN);
    cr_assert(strstr(e.message, "TypeError: plugbay.store.sql: params must be a list or tuple (for ? parameters) or "
                                "a dict (for :name parameters), not str"),
              "%s", e.message);
    cr_assert_str_eq(answer("pystore.get", "[\"k\", \"not stored\"]"), "\"not stored\"");
}

/* ---- hooks --------------------------------------------------------------------- */

/* hooks returns what python/store's hooks() answers: {"ran": in this worker, "kept": in the store}, as JSON. */
static const char *hooks(void)
{
    return answer("pystore.hooks", "[]");
}

/* manifest is python/store's plugin.json in the plugins folder (static). */
static const char *manifest(void)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/python/store/plugin.json", h.plugins);
    return path;
}

Test(python_store, on_install_runs_once_and_on_update_gets_the_version_before)
{
    cr_assert_str_eq(hooks(), "{\"ran\":\"on_install\",\"kept\":\"on_install\"}");
    bay_error e;
    cr_assert_eq(h_command(c, "reload", "python/store", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "{\"ran\":\"\",\"kept\":\"on_install\"}", "the same version ran a hook again");
    h_edit_file(manifest(), "\"version\": \"0.1.0\"", "\"version\": \"0.2.0\"");
    cr_assert_eq(h_command(c, "reload", "python/store", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "{\"ran\":\"on_update(0.1.0)\",\"kept\":\"on_install on_update(0.1.0)\"}");
}

Test(python_store, an_on_update_that_raises_stops_the_update_and_what_it_wrote_is_rolled_back)
{
    bay_error e;
    cr_assert_eq(h_set_setting(c, "python/store", "fail_update", "true", &e), 0, "%s", e.message);
    pid_t worker = h_worker_pid(c, "python/store");
    h_edit_file(manifest(), "\"version\": \"0.1.0\"", "\"version\": \"0.2.0\"");
    cr_assert_eq(h_command(c, "reload", "python/store", &e), BAY_EUNAVAIL, "%s", e.message);
    cr_assert(strstr(e.message, "on_update failed: RuntimeError: cannot migrate from 0.1.0: told to fail (at main.py:") &&
                  strstr(e.message, "version 0.1.0 keeps serving"),
              "%s", e.message);
    cr_assert_eq(h_worker_pid(c, "python/store"), worker, "another worker serves");
    cr_assert_str_eq(hooks(), "{\"ran\":\"on_install\",\"kept\":\"on_install\"}",
                     "what the failed on_update wrote was kept");
    /* Allowed again, the next reload updates. */
    cr_assert_eq(h_set_setting(c, "python/store", "fail_update", "false", &e), 0, "%s", e.message);
    cr_assert_eq(h_command(c, "reload", "python/store", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "{\"ran\":\"on_update(0.1.0)\",\"kept\":\"on_install on_update(0.1.0)\"}");
}

Test(python_store, on_uninstall_runs_with_the_store_still_there)
{
    bay_error e;
    cr_assert_eq(h_command(c, "uninstall", "python/store", &e), 0, "%s", e.message);
    cr_assert(h_wait_log(&h, "on_uninstall ran after on_install on_uninstall"), "on_uninstall did not run");
}
