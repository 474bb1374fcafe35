/* tests/e2e/test_rescan.c — plugin folders that appear, change or disappear while plugbayd runs; rescan; SIGHUP. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* start starts plugbayd with example/hello, installing what it finds unless manual. */
static void start(bool manual)
{
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    h.manual = manual;
    h_start(&h, NULL);
    c = h_connect(&h, "test-rescan");
    if (!manual)
        h_wait_loaded(c, ids);
}

/* start_auto: the suite's default, plugbayd with --autoinstall. */
static void start_auto(void)
{
    start(false);
}

/* start_manual: plugbayd without --autoinstall. */
static void start_manual(void)
{
    start(true);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(rescan, .init = start_auto, .fini = stop, .timeout = 120);

/* listed tells whether plugbayd lists plugin *(const char **)id now. */
static bool listed(void *id)
{
    bay_value *a = bay_map(), *out = NULL;
    bay_map_set(a, "id", bay_str(id));
    int rc = bay_command(c, "info", a, 5000, &out, NULL);
    bay_value_free(a);
    bay_value_free(out);
    return rc == 0;
}

/* A plugin and what its reason should hold. */
struct reason_wait {
    const char *id, *needle;
};

/* reason_holds tells whether the plugin's reason holds the needle now (for h_wait_until). */
static bool reason_holds(void *arg)
{
    struct reason_wait *w = arg;
    char state[64] = "", reason[1024] = "";
    h_plugin_state(c, w->id, state, sizeof state, reason, sizeof reason);
    return strstr(reason, w->needle) != NULL;
}

/* reason_has waits until plugin id's reason holds needle (true) or H_WAIT_MS passed. */
static bool reason_has(const char *id, const char *needle)
{
    struct reason_wait w = {id, needle};
    return h_wait_until(reason_holds, &w, H_WAIT_MS);
}

/* rescan runs `rescan` and returns its answer (the caller frees it). */
static bay_value *rescan(void)
{
    bay_value *out = NULL;
    bay_error err;
    cr_assert_eq(bay_command(c, "rescan", NULL, 10000, &out, &err), 0, "rescan: %s", err.message);
    return out;
}

/* greets asserts that greet answers through plugbayd. */
static void greets(void)
{
    char out[256];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "Ada", 10000, out, sizeof out, &err), 0, "greet: %s", err.message);
    cr_assert(strstr(out, "Ada"), "greet answered %s", out);
}

/* path writes DIR/plugins/rel into out. */
static void path(const char *rel, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", h.plugins, rel);
}

Test(rescan, a_folder_copied_in_while_running_is_found_installed_and_loaded)
{
    h_copy_plugin(&h, "example/audit", "me/cupper");
    cr_assert(h_wait_until(listed, "me/cupper", H_WAIT_MS), "me/cupper, copied in, was never found");
    cr_assert(h_wait_state(c, "me/cupper", "loaded", H_WAIT_MS), "me/cupper, copied in, was not loaded (--autoinstall)");
    cr_assert(h_wait_log(&h, "[me/cupper] installed with every permission"));
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(h_call_json(c, "math.add", "[2, 3]", 0, &res, &err), 0, "math.add: %s", err.message);
    cr_assert_eq(bay_value_int(res), 5);
    bay_value_free(res);
}

Test(rescan, a_folder_copied_in_becomes_installable_without_autoinstall, .init = start_manual)
{
    char state[64];
    h_plugin_state(c, "example/hello", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "available", "without --autoinstall, a found plugin waits for install");
    h_copy_plugin(&h, "example/audit", "me/cupper");
    cr_assert(h_wait_until(listed, "me/cupper", H_WAIT_MS), "me/cupper, copied in, was never found");
    bay_error err;
    cr_assert_eq(h_install_all(c, "me/cupper", &err), 0, "install: %s", err.message);
    cr_assert(h_wait_state(c, "me/cupper", "loaded", H_WAIT_MS));
}

Test(rescan, rescan_finds_a_new_folder_at_once_and_leaves_an_audit_line, .init = start_manual)
{
    h_copy_plugin(&h, "example/audit", "me/cupper");
    bay_value *out = rescan();
    /* Found when rescan answers, whether rescan or the watch got there first. */
    cr_assert(listed("me/cupper"), "me/cupper not listed once rescan answered");
    cr_assert_eq(bay_value_int(bay_map_get(out, "plugins")), 2);
    cr_assert_eq(bay_value_type(bay_map_get(out, "refused")), BAY_ARRAY);
    bay_value_free(out);
    cr_assert(h_wait_log(&h, "[audit] host:test-rescan"));
    cr_assert(h_wait_log(&h, "rescan {}: done"));
}

Test(rescan, the_cli_rescans_and_says_how_many_plugins)
{
    char out[4096], err[4096];
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "rescan", NULL};
    h_copy_plugin(&h, "example/audit", "me/cupper");
    cr_assert_eq(h_run(&h, argv, out, sizeof out, err, sizeof err), 0, "plugbay rescan: %s", err);
    cr_assert(strstr(out, "2 plugins"), "plugbay rescan printed: %s", out);
}

Test(rescan, a_broken_manifest_in_a_new_folder_is_reported_and_nothing_else_stops)
{
    h_write_manifest(&h, "me/broken", "{\"name\": \"Broken\", \"version\": ,}");
    cr_assert(h_wait_until(listed, "me/broken", H_WAIT_MS), "me/broken was never found");
    cr_assert(h_wait_state(c, "me/broken", "invalid", H_WAIT_MS), "me/broken was not found invalid");
    cr_assert(reason_has("me/broken", "me/broken/plugin.json: line 1"), "the reason names the file and the line");
    cr_assert(h_wait_log(&h, "[me/broken] invalid manifest: "));
    bay_error err;
    cr_assert_eq(h_command(c, "install", "me/broken", &err), BAY_EMANIFEST, "%s", err.message);
    cr_assert(strstr(err.message, "me/broken cannot be installed: ") && strstr(err.message, "line 1"), "%s",
              err.message);
    greets();
    char state[64];
    h_plugin_state(c, "example/hello", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "loaded");
    /* Mended, it is read again and installed as at start. */
    h_write_manifest(&h, "me/broken", "{\"name\": \"Mended\", \"version\": \"1.0.0\", \"language\": \"lua\", "
                                      "\"entry\": \"main.lua\", \"provides\": []}");
    cr_assert(h_wait_state(c, "me/broken", "stopped", H_WAIT_MS), "mended, me/broken was not installed");
    cr_assert(h_wait_log(&h, "[me/broken] its plugin.json changed: read again"));
}

Test(rescan, a_changed_manifest_of_a_plugin_not_loaded_is_read_again)
{
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "example/hello", &err), 0, "%s", err.message);
    char file[600], text[4096];
    path("example/hello/plugin.json", file, sizeof file);
    FILE *f = fopen(file, "r");
    cr_assert(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *v = strstr(text, "\"1.0.0\"");
    cr_assert(v, "example/hello's version is 1.0.0: %s", text);
    memcpy(v, "\"1.2.3\"", 7);
    h_write_manifest(&h, "example/hello", text);
    cr_assert(h_wait_log(&h, "[example/hello] its plugin.json changed: read again"));
    bay_value *a = bay_map(), *out = NULL;
    bay_map_set(a, "id", bay_str("example/hello"));
    cr_assert_eq(bay_command(c, "info", a, 5000, &out, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(out, "version"), NULL), "1.2.3");
    cr_assert_str_eq(bay_value_str(bay_map_get(out, "state"), NULL), "stopped", "read again, it stays unloaded");
    bay_value_free(a);
    bay_value_free(out);
    cr_assert_eq(h_command(c, "load", "example/hello", &err), 0, "%s", err.message);
    greets();
}

/* Whether the watcher heard that example/hello's folder is gone. */
static atomic_bool heard_gone;

/* on_notice notes the notice of example/hello's state that says its folder is gone. */
static void on_notice(const bay_notice *n, void *user)
{
    (void)user;
    if (strcmp(n->what, "plugin-state") == 0 && strcmp(n->plugin, "example/hello") == 0 && n->reason &&
        strstr(n->reason, "is gone"))
        atomic_store(&heard_gone, true);
}

/* heard tells whether the watcher heard it (for h_wait_until). */
static bool heard(void *arg)
{
    (void)arg;
    return atomic_load(&heard_gone);
}

Test(rescan, a_removed_folder_of_an_installed_plugin_is_reported_and_it_runs_on_until_unloaded)
{
    bay_conn *watcher = h_connect(&h, "watcher");
    bay_error err;
    cr_assert_eq(bay_subscribe(watcher, on_notice, NULL, &err), 0, "%s", err.message);
    char from[600], away[600];
    path("example/hello", from, sizeof from);
    snprintf(away, sizeof away, "%s/hello-away", h.dir);
    cr_assert_eq(rename(from, away), 0);
    cr_assert(reason_has("example/hello", "its folder"), "no reason says the folder is gone");
    cr_assert(reason_has("example/hello", "is gone"));
    cr_assert(h_wait_log(&h, "WARN  [example/hello] loaded: its folder "));
    cr_assert(h_wait_until(heard, NULL, H_WAIT_MS), "no subscriber heard that the folder is gone");
    greets(); /* loaded, it runs on */
    bay_value *out = rescan();
    cr_assert_eq(bay_value_int(bay_map_get(out, "plugins")), 1, "an installed plugin stays listed");
    bay_value_free(out);
    cr_assert_eq(h_command(c, "unload", "example/hello", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "example/hello", &err), BAY_ENOENT, "it cannot load without its folder");
    cr_assert(strstr(err.message, "is gone") && strstr(err.message, "plugbay rescan"), "%s", err.message);
    /* Back, it loads again. */
    cr_assert_eq(rename(away, from), 0);
    cr_assert(h_wait_log(&h, "[example/hello] its folder is back"));
    cr_assert_eq(h_command(c, "load", "example/hello", &err), 0, "%s", err.message);
    greets();
    bay_close(watcher);
}

Test(rescan, a_removed_folder_of_a_plugin_not_installed_is_no_longer_listed, .init = start_manual)
{
    h_copy_plugin(&h, "example/audit", "me/cupper");
    cr_assert(h_wait_until(listed, "me/cupper", H_WAIT_MS));
    char dir[600], file[700];
    path("me/cupper", dir, sizeof dir);
    snprintf(file, sizeof file, "%s/plugin.json", dir);
    cr_assert_eq(unlink(file), 0);
    bay_value *out = rescan();
    cr_assert_not(listed("me/cupper"), "a plugin not installed whose folder holds no plugin.json any more is listed");
    cr_assert_eq(bay_value_int(bay_map_get(out, "plugins")), 1);
    bay_value_free(out);
}

/* new_log_written tells whether the file arg exists and holds the line SIGHUP writes once the log is reopened. */
static bool new_log_written(void *arg)
{
    const char *file = arg;
    FILE *f = fopen(file, "r");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, "received SIGHUP; log file opened again") != NULL;
    if (f)
        fclose(f);
    return found;
}

Test(rescan, sighup_after_the_log_was_moved_writes_a_new_log_and_keeps_serving)
{
    char moved[400];
    snprintf(moved, sizeof moved, "%s.1", h.log);
    cr_assert_eq(rename(h.log, moved), 0);
    cr_assert_eq(kill(h.broker, SIGHUP), 0);
    cr_assert(h_wait_until(new_log_written, h.log, H_WAIT_MS), "no new log file %s after SIGHUP", h.log);
    cr_assert_not(new_log_written(moved), "the moved log got the line after SIGHUP");
    int status;
    cr_assert_eq(waitpid(h.broker, &status, WNOHANG), 0, "plugbayd ended on SIGHUP");
    greets();
    h_copy_plugin(&h, "example/audit", "me/cupper"); /* the watch still works */
    cr_assert(h_wait_until(listed, "me/cupper", H_WAIT_MS), "me/cupper, copied in, was never found");
    cr_assert(h_wait_state(c, "me/cupper", "loaded", H_WAIT_MS));
    cr_assert(h_wait_log(&h, "[me/cupper] loaded"), "the new log file gets the lines");
}

Test(rescan, links_and_folders_no_id_can_name_are_refused_with_the_reason)
{
    char outside[600], link[600], bad[600], esc[600];
    snprintf(outside, sizeof outside, "%s/outside", h.dir);
    cr_assert_eq(mkdir(outside, 0700), 0);
    h_copy_plugin(&h, "example/audit", "../outside/evil"); /* a whole plugin, outside the plugins folder */
    path("me", link, sizeof link);
    cr_assert_eq(mkdir(link, 0700), 0);
    path("me/evil", link, sizeof link);
    snprintf(outside, sizeof outside, "%s/outside/evil", h.dir);
    cr_assert_eq(symlink(outside, link), 0);
    path("me/alias", link, sizeof link);
    cr_assert_eq(symlink("../example/hello", link), 0); /* a second id for a plugin there */
    h_copy_plugin(&h, "example/audit", "me/bad name");
    h_copy_plugin(&h, "example/audit", "me/\x1b[2Jred");
    bay_value *out = rescan();
    const bay_value *refused = bay_map_get(out, "refused");
    char all[4096] = "";
    for (size_t i = 0; i < bay_value_len(refused); i++) {
        const bay_value *r = bay_array_get(refused, i);
        size_t n = strlen(all);
        snprintf(all + n, sizeof all - n, "%s: %s\n", bay_value_str(bay_map_get(r, "path"), NULL),
                 bay_value_str(bay_map_get(r, "reason"), NULL));
    }
    bay_value_free(out);
    cr_assert(strstr(all, "me/evil: a symbolic link (to "), "refused: %s", all);
    cr_assert(strstr(all, "me/alias: a symbolic link (to ../example/hello)"), "refused: %s", all);
    cr_assert(strstr(all, "me/bad name: not a plugin id"), "refused: %s", all);
    cr_assert(strstr(all, "me/?[2Jred: not a plugin id"), "a terminal escape is shown as ?: %s", all);
    cr_assert_not(strchr(all, '\x1b'), "refused: %s", all);
    const char *none[] = {"me/evil", "me/alias", "me/bad name", NULL};
    for (size_t i = 0; none[i]; i++)
        cr_assert_not(listed((void *)none[i]), "%s is listed", none[i]);
    cr_assert(h_wait_log(&h, "/me/evil is refused: a symbolic link"));
    snprintf(bad, sizeof bad, "%s", "me/bad name is refused: not a plugin id");
    cr_assert(h_wait_log(&h, bad));
    snprintf(esc, sizeof esc, "%s", "me/?[2Jred is refused");
    cr_assert(h_wait_log(&h, esc));
    greets();
}

Test(rescan, a_plugins_folder_filled_with_folders_takes_at_most_4096_watches_and_serves_on)
{
    char dir[600];
    path("many", dir, sizeof dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    for (int i = 0; i < 4200; i++) {
        snprintf(dir, sizeof dir, "%s/many/d%d", h.plugins, i);
        cr_assert_eq(mkdir(dir, 0700), 0, "%s", dir);
    }
    bay_value *out = rescan();
    cr_assert_eq(bay_value_int(bay_map_get(out, "plugins")), 1);
    bay_value_free(out);
    cr_assert(h_wait_log(&h, "more than 4096 folders below the plugins folder: "));
    greets();
}
