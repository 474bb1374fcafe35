/* tests/e2e/test_settings.c — a plugin's settings changed by the CLI and by a host and heard without a restart,
 * bad values refused, secrets never shown, values kept across restarts and versions; on_install, on_update and
 * on_uninstall run when they should, and a failing on_update stops the update. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"test/settings", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-settings");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(settings, .init = start, .fini = stop, .timeout = 120);

/* setting returns what test/settings reads of setting key, as JSON (static). */
static const char *setting(const char *key)
{
    static char out[600];
    char args[200];
    bay_value *res = NULL;
    bay_error e;
    snprintf(args, sizeof args, "[\"%s\"]", key);
    if (h_call_json(c, "settings.get", args, 5000, &res, &e) != 0) {
        snprintf(out, sizeof out, "failed: %s", e.message);
        return out;
    }
    char *json = NULL;
    bay_value_to_json(res, &json);
    snprintf(out, sizeof out, "%s", json ? json : "?");
    free(json);
    bay_value_free(res);
    return out;
}

/* config runs plugbay config test/settings with more words (NULL-terminated): exit status; stdout in out,
 * stderr in err. */
static int config(const char *const *more, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *argv[12] = {BAY_BIN_DIR "/plugbay", "config", "test/settings", "--broker", h.url};
    size_t n = 5;
    for (size_t i = 0; more && more[i] && n < 11; i++)
        argv[n++] = more[i];
    argv[n] = NULL;
    return h_run(&h, argv, out, outlen, err, errlen);
}

/* set_by_host sets test/settings' key to the value of JSON json as a host does: its code, err its message. */
static int set_by_host(const char *key, const char *json, bay_error *err)
{
    return h_set_setting(c, "test/settings", key, json, err);
}

struct wanted {
    const char *key, *json;
};

/* reads tells whether test/settings reads setting w->key as w->json. */
static bool reads(void *arg)
{
    const struct wanted *w = arg;
    return strcmp(setting(w->key), w->json) == 0;
}

Test(settings, a_setting_changed_by_the_cli_and_by_a_host_is_heard_without_a_restart)
{
    cr_assert_str_eq(setting("greeting"), "\"Hello\"");
    cr_assert_str_eq(setting("retries"), "3");
    pid_t worker = h_worker_pid(c, "test/settings");
    char out[2048], err[1024];
    const char *by_cli[] = {"greeting=Howdy", NULL};
    cr_assert_eq(config(by_cli, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "greeting") && strstr(out, "Howdy") && strstr(out, "Hello"), "%s", out);
    struct wanted howdy = {"greeting", "\"Howdy\""};
    cr_assert(h_wait_until(reads, &howdy, H_WAIT_MS), "the plugin reads %s", setting("greeting"));
    bay_error e;
    cr_assert_eq(set_by_host("retries", "7", &e), 0, "%s", e.message);
    struct wanted seven = {"retries", "7"};
    cr_assert(h_wait_until(reads, &seven, H_WAIT_MS), "the plugin reads %s", setting("retries"));
    cr_assert_eq(h_worker_pid(c, "test/settings"), worker, "the worker was restarted");
    /* on_settings heard the last change: the settings and the keys changed. */
    bay_value *heard = NULL;
    cr_assert_eq(h_call_json(c, "settings.heard", "[]", 5000, &heard, &e), 0, "%s", e.message);
    cr_assert_eq(bay_value_int(bay_map_get(bay_array_get(heard, 0), "retries")), 7);
    cr_assert_str_eq(bay_value_str(bay_array_get(bay_array_get(heard, 1), 0), NULL), "retries");
    bay_value_free(heard);
    /* --reset gives the default back. */
    const char *reset[] = {"greeting", "--reset", NULL};
    cr_assert_eq(config(reset, out, sizeof out, err, sizeof err), 0, "%s", err);
    struct wanted hello = {"greeting", "\"Hello\""};
    cr_assert(h_wait_until(reads, &hello, H_WAIT_MS), "the plugin reads %s", setting("greeting"));
}

Test(settings, a_value_outside_its_declaration_is_refused_naming_the_plugin_the_key_and_what_it_takes)
{
    static const struct {
        const char *word, *says;
    } bad[] = {
        {"retries=11", "test/settings: setting \"retries\": expected an integer from 0 to 10, got \"11\""},
        {"retries=many", "test/settings: setting \"retries\": expected an integer from 0 to 10, got \"many\""},
        {"ratio=2.5", "setting \"ratio\": expected a number from 0 to 1"},
        {"greeting=hello", "setting \"greeting\": expected a string matching [A-Z][a-z]*, got \"hello\""},
        {"mode=slow", "setting \"mode\": expected one of \"fast\", \"safe\", got \"slow\""},
        {"loud=yes", "setting \"loud\": expected true or false, got \"yes\""},
        {"nope=1", "test/settings declares no setting \"nope\" (its settings: greeting, retries, ratio, loud, mode, "
                   "token, fail_update)"},
    };
    char out[2048], err[1024];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *words[] = {bad[i].word, NULL};
        cr_assert_eq(config(words, out, sizeof out, err, sizeof err), 1, "%s", bad[i].word);
        cr_assert(strstr(err, bad[i].says), "%s: %s", bad[i].word, err);
    }
    /* From a host: a value of another type, a map that is no map. */
    bay_error e;
    cr_assert_eq(set_by_host("retries", "\"7\"", &e), BAY_EINVAL);
    cr_assert(strstr(e.message, "expected an integer from 0 to 10, got \"7\""), "%s", e.message);
    bay_value *args = bay_map(), *res = NULL;
    bay_map_set(args, "id", bay_str("test/settings"));
    bay_map_set(args, "set", bay_str("retries=7"));
    cr_assert_eq(bay_command(c, "config", args, 5000, &res, &e), BAY_EINVAL);
    cr_assert(strstr(e.message, "\"set\" must be a map of setting to value"), "%s", e.message);
    bay_value_free(args);
    /* Bytes, which no setting holds. */
    args = bay_map();
    bay_value *bytes = bay_map();
    bay_map_set(bytes, "greeting", bay_bin("Hi", 2));
    bay_map_set(args, "id", bay_str("test/settings"));
    bay_map_set(args, "set", bytes);
    cr_assert_eq(bay_command(c, "config", args, 5000, &res, &e), BAY_EINVAL);
    cr_assert(strstr(e.message, "setting \"greeting\": expected a string matching [A-Z][a-z]*, got a bin"), "%s",
              e.message);
    bay_value_free(args);
    /* Several changes at once, one bad: none is kept. */
    args = bay_map();
    bay_value *set = bay_map();
    bay_map_set(set, "retries", bay_int(9));
    bay_map_set(set, "mode", bay_str("slow"));
    bay_map_set(args, "id", bay_str("test/settings"));
    bay_map_set(args, "set", set);
    cr_assert_eq(bay_command(c, "config", args, 5000, &res, &e), BAY_EINVAL);
    bay_value_free(args);
    cr_assert_str_eq(setting("retries"), "3");
    /* The CLI's own bad forms. */
    const char *empty[] = {"=7", NULL}, *reset_value[] = {"retries=7", "--reset", NULL};
    cr_assert_eq(config(empty, out, sizeof out, err, sizeof err), 2);
    cr_assert(strstr(err, "KEY must be a setting's name"), "%s", err);
    cr_assert_eq(config(reset_value, out, sizeof out, err, sizeof err), 2);
    cr_assert(strstr(err, "--reset goes with config ID KEY (no =VALUE)"), "%s", err);
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "config", "no/such", "--broker", h.url, NULL};
    cr_assert_eq(h_run(&h, argv, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "no plugin \"no/such\""), "%s", err);
    cr_assert_str_eq(setting("greeting"), "\"Hello\"", "the plugin answers as before");
}

Test(settings, a_secret_reaches_the_plugin_but_is_never_printed_logged_or_shown_in_info)
{
    char out[4096], err[1024];
    const char *words[] = {"token=s3cr3t-VALUE", NULL};
    cr_assert_eq(config(words, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "(secret, set)") && !strstr(out, "s3cr3t"), "%s", out);
    struct wanted token = {"token", "\"s3cr3t-VALUE\""};
    cr_assert(h_wait_until(reads, &token, H_WAIT_MS), "the plugin reads %s", setting("token"));
    const char *json[] = {"--json", NULL}, *one[] = {"token", NULL};
    cr_assert_eq(config(json, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, "\"token\"") && !strstr(out, "s3cr3t"), "%s", out);
    cr_assert_eq(config(one, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(!strstr(out, "s3cr3t"), "%s", out);
    const char *info[] = {BAY_BIN_DIR "/plugbay", "info", "test/settings", "--json", "--broker", h.url, NULL};
    cr_assert_eq(h_run(&h, info, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(!strstr(out, "s3cr3t"), "info shows the secret: %s", out);
    /* A refused value of a secret is not echoed either. */
    bay_error e;
    cr_assert_eq(set_by_host("token", "42", &e), BAY_EINVAL);
    cr_assert(strstr(e.message, "got another value (not shown: the setting is secret)"), "%s", e.message);
    cr_assert(h_wait_log(&h, "setting token is now (secret)"));
    cr_assert(!h_log_contains(&h, "s3cr3t"), "plugbayd's log holds the secret");
    cr_assert(h_log_contains(&h, "\"token\":\"(not shown)\""), "the audit line names the secret it hides");
    /* The audit line shows what was given to a setting that is not secret. */
    const char *retries[] = {"retries=3", NULL};
    cr_assert_eq(config(retries, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(h_wait_log(&h, "\"set_text\":{\"retries\":\"3\"}"));
}

Test(settings, values_are_kept_across_a_restart_of_plugbayd)
{
    bay_error e;
    cr_assert_eq(set_by_host("retries", "5", &e), 0, "%s", e.message);
    bay_close(c);
    h_stop(&h);
    h_start(&h, NULL);
    c = h_connect(&h, "test-settings");
    const char *ids[] = {"test/settings", NULL};
    h_wait_loaded(c, ids);
    cr_assert_str_eq(setting("retries"), "5");
}

/* hooks_of returns what test/settings says of the hooks: those its worker ran ("ran"), or those its store kept
 * ("kept"), as a string (static). */
static const char *hooks_of(const char *which)
{
    static char ran[512];
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, "settings.hooks", "[]", 5000, &res, &e), 0, "%s", e.message);
    const char *s = bay_value_str(bay_map_get(res, which), NULL);
    snprintf(ran, sizeof ran, "%s", s ? s : "");
    bay_value_free(res);
    return ran;
}

/* hooks returns the hooks test/settings' worker ran, as a string (static). */
static const char *hooks(void)
{
    return hooks_of("ran");
}

/* manifest is test/settings' plugin.json in the plugins folder (static). */
static const char *manifest(void)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/test/settings/plugin.json", h.plugins);
    return path;
}

Test(settings, on_install_runs_once_on_update_with_the_version_before_and_a_failing_one_stops_the_update)
{
    cr_assert_str_eq(hooks(), "on_install");
    bay_error e;
    cr_assert_eq(h_command(c, "reload", "test/settings", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "", "the same version ran a hook again");
    h_edit_file(manifest(), "\"version\": \"1.0.0\"", "\"version\": \"1.1.0\"");
    cr_assert_eq(h_command(c, "reload", "test/settings", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "on_update(1.0.0)");
    /* told to fail: the reload is refused and 1.1.0 serves on. */
    cr_assert_eq(set_by_host("fail_update", "true", &e), 0, "%s", e.message);
    h_edit_file(manifest(), "\"version\": \"1.1.0\"", "\"version\": \"1.2.0\"");
    cr_assert_eq(h_command(c, "reload", "test/settings", &e), BAY_EUNAVAIL);
    cr_assert(strstr(e.message, "on_update failed: cannot migrate from 1.1.0: told to fail") &&
                  strstr(e.message, "version 1.1.0 keeps serving"),
              "%s", e.message);
    cr_assert_str_eq(hooks(), "on_update(1.0.0)", "another worker serves");
    cr_assert_str_eq(hooks_of("kept"), "on_install on_update(1.0.0)", "what the failed on_update wrote was kept");
    /* Its next load tries again (the version loaded last is still 1.1.0), and passes once allowed. */
    cr_assert_eq(set_by_host("fail_update", "false", &e), 0, "%s", e.message);
    cr_assert_eq(h_command(c, "reload", "test/settings", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "on_update(1.1.0)");
    cr_assert_str_eq(hooks_of("kept"), "on_install on_update(1.0.0) on_update(1.1.0)");
}

/* reload_main reloads test/settings from a connection of its own; arg: where its code goes. */
static void *reload_main(void *arg)
{
    bay_conn *own = h_connect(&h, "test-settings-reload");
    bay_error e;
    *(int *)arg = h_command(own, "reload", "test/settings", &e);
    bay_close(own);
    return NULL;
}

Test(settings, a_setting_changed_while_a_new_version_loads_reaches_it)
{
    h_edit_file(manifest(), "\"version\": \"1.0.0\"", "\"version\": \"1.1.0\", \"config\": {\"update_ms\": 1500}");
    int rc = -1;
    pthread_t reloader;
    cr_assert_eq(pthread_create(&reloader, NULL, reload_main, &rc), 0);
    cr_assert(h_wait_log(&h, "starts version 1.1.0 beside worker"));
    bay_error e;
    cr_assert_eq(set_by_host("greeting", "\"Late\"", &e), 0, "%s", e.message);
    pthread_join(reloader, NULL);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(hooks(), "on_update(1.0.0)", "the new version serves");
    struct wanted late = {"greeting", "\"Late\""};
    cr_assert(h_wait_until(reads, &late, H_WAIT_MS), "the new version reads %s", setting("greeting"));
}

Test(settings, a_new_version_dropping_or_retyping_a_setting_says_what_became_of_its_value)
{
    bay_error e;
    cr_assert_eq(set_by_host("loud", "true", &e), 0, "%s", e.message);
    cr_assert_eq(set_by_host("mode", "\"safe\"", &e), 0, "%s", e.message);
    h_edit_file(manifest(), "\"version\": \"1.0.0\"", "\"version\": \"2.0.0\"");
    h_edit_file(manifest(), "\"loud\": {\"type\": \"boolean\", \"default\": false, \"description\": \"whether it shouts\"},", "");
    h_edit_file(manifest(), "\"enum\": [\"fast\", \"safe\"]", "\"enum\": [\"fast\", \"careful\"]");
    cr_assert_eq(h_command(c, "reload", "test/settings", &e), 0, "%s", e.message);
    cr_assert(h_wait_log(&h, "version 2.0.0 no longer declares setting loud: the value it had is removed"));
    cr_assert(h_wait_log(&h, "version 2.0.0: setting mode now takes one of \"fast\", \"careful\": the value it had "
                             "does not fit, so it is back to its default"));
    cr_assert_str_eq(setting("mode"), "\"fast\"");
    cr_assert(strstr(setting("loud"), "no setting loud"), "%s", setting("loud"));
}

Test(settings, on_uninstall_runs_before_the_unload_and_the_data_folder_goes_after)
{
    char data[700];
    snprintf(data, sizeof data, "%s/data/test/settings", h.state);
    cr_assert_eq(access(data, F_OK), 0, "%s", data);
    bay_error e;
    cr_assert_eq(h_command(c, "uninstall", "test/settings", &e), 0, "%s", e.message);
    cr_assert(h_wait_log(&h, "on_uninstall ran"));
    cr_assert_neq(access(data, F_OK), 0, "%s is still there", data);
    cr_assert(!h_log_contains(&h, "on_uninstall failed"), "on_uninstall could not use its store");
    /* Installed again, its install hook runs again. */
    cr_assert_eq(h_install_all(c, "test/settings", &e), 0, "%s", e.message);
    const char *ids[] = {"test/settings", NULL};
    h_wait_loaded(c, ids);
    cr_assert_str_eq(hooks(), "on_install");
    cr_assert_str_eq(hooks_of("kept"), "on_install", "the store of the plugin before was removed");
}

Test(settings, a_failing_on_install_fails_the_install_and_runs_again_at_the_next_load)
{
    bay_error e;
    cr_assert_eq(h_command(c, "uninstall", "test/settings", &e), 0, "%s", e.message);
    h_edit_file(manifest(), "\"provides\": [", "\"config\": {\"fail_install\": true}, \"provides\": [");
    cr_assert_eq(h_command(c, "rescan", NULL, &e), 0, "%s", e.message);
    cr_assert_neq(h_install_all(c, "test/settings", &e), 0);
    cr_assert(strstr(e.message, "on_install failed: cannot set up: told to fail"), "%s", e.message);
    h_edit_file(manifest(), "\"fail_install\": true", "\"fail_install\": false");
    cr_assert_eq(h_command(c, "rescan", NULL, &e), 0, "%s", e.message);
    cr_assert_eq(h_command(c, "load", "test/settings", &e), 0, "%s", e.message);
    cr_assert_str_eq(hooks(), "on_install", "its next load runs on_install again");
}

Test(settings, a_manifest_declaring_a_bad_setting_is_refused_saying_which_and_why)
{
    h_edit_file(manifest(), "\"minimum\": 0, \"maximum\": 10", "\"minimum\": 10, \"maximum\": 0");
    bay_error e;
    cr_assert_neq(h_command(c, "reload", "test/settings", &e), 0);
    cr_assert(strstr(e.message, "setting \"settings.retries\": field \"maximum\": expected a number no less than "
                                "minimum"),
              "%s", e.message);
    cr_assert_str_eq(setting("retries"), "3", "the version before serves on");
}
