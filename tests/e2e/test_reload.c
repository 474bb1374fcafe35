/* tests/e2e/test_reload.c — reload and load read plugin.json again: version, config, provides; new permissions wait for a grant; a broken manifest changes nothing; a host calling in a loop sees no failed call. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* A copy of example/hello's code as re/hello, its manifest written by each test. */
/* fields: more fields, each followed by a comma; more: more provides, each preceded by one. */
#define MANIFEST(version, greeting, fields, more)                                                                \
    "{\"name\": \"Re\", \"version\": \"" version "\", \"language\": \"c\", \"entry\": \"plugin.so\", " fields     \
    " \"config\": {\"greeting\": \"" greeting "\"},"                                                               \
    " \"provides\": [{\"name\": \"re.greet\", \"kind\": \"handle\", \"function\": \"greet\"}" more "]}"

static const char v1[] = MANIFEST("1.0.0", "Hello", "", "");

/* A copy of test/timer's code as re/timer: timers is its "timers" field followed by a comma, or "" for none. */
#define TIMER(timers)                                                                                             \
    "{\"name\": \"Re timer\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\", " timers      \
    " \"provides\": [{\"name\": \"timer.count\", \"kind\": \"handle\"}]}"

static void start(void)
{
    h_setup(&h, NULL);
    h_clone_plugin(&h, "example/hello", "re/hello", v1);
    h_clone_plugin(&h, "test/timer", "re/timer", TIMER(""));
    h_start(&h, NULL);
    c = h_connect(&h, "test-reload");
    const char *ids[] = {"re/hello", "re/timer", NULL};
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(reload, .init = start, .fini = stop, .timeout = 120);

/* info_str returns field of re/hello's info (a string, or "" when it is none) in out. */
static const char *info_str(const char *field, char *out, size_t len)
{
    bay_value *a = bay_map(), *info = NULL;
    bay_map_set(a, "id", bay_str("re/hello"));
    bay_error err;
    cr_assert_eq(bay_command(c, "info", a, 5000, &info, &err), 0, "%s", err.message);
    const char *s = bay_value_str(bay_map_get(info, field), NULL);
    snprintf(out, len, "%s", s ? s : "");
    bay_value_free(info);
    bay_value_free(a);
    return out;
}

/* config_greeting returns re/hello's config.greeting as info shows it, in out. */
static const char *config_greeting(char *out, size_t len)
{
    bay_value *a = bay_map(), *info = NULL;
    bay_map_set(a, "id", bay_str("re/hello"));
    cr_assert_eq(bay_command(c, "info", a, 5000, &info, NULL), 0);
    const char *s = bay_value_str(bay_map_get(bay_map_get(info, "config"), "greeting"), NULL);
    snprintf(out, len, "%s", s ? s : "");
    bay_value_free(info);
    bay_value_free(a);
    return out;
}

/* serves asserts that re/hello is loaded at version and answers re.greet "x" with greeting. */
static void serves(const char *version, const char *greeting)
{
    char s[64], out[128];
    h_plugin_state(c, "re/hello", s, sizeof s, NULL, 0);
    cr_assert_str_eq(s, "loaded");
    cr_assert_str_eq(info_str("version", s, sizeof s), version);
    bay_error err;
    cr_assert_eq(h_call_str(c, "re.greet", "x", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, greeting);
}

/* refused writes manifest and asserts that a reload is refused with code, its message in err. */
static void refused(const char *manifest, int code, bay_error *err)
{
    h_write_manifest(&h, "re/hello", manifest);
    int rc = h_command(c, "reload", "re/hello", err);
    cr_assert_eq(rc, code, "got %s: %s", bay_errname(rc), err->message);
    cr_assert_str_eq(err->plugin, "re/hello");
}

Test(reload, takes_a_new_version_and_config)
{
    h_write_manifest(&h, "re/hello", MANIFEST("1.1.0", "Howdy", "", ""));
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "re/hello", &err), 0, "%s", err.message);
    char s[64];
    cr_assert_str_eq(config_greeting(s, sizeof s), "Howdy");
    serves("1.1.0", "Howdy, x!"); /* the plugin sees its new config */
    cr_assert(h_wait_log(&h, "manifest read again: version 1.1.0 (was 1.0.0)"));
}

/* grant_as_written runs the `plugbay grant ...` command that message quotes, word by word, with the real CLI. */
static void grant_as_written(const char *message)
{
    const char *from = strstr(message, "`plugbay grant ");
    cr_assert_not_null(from, "no grant command in: %s", message);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(from + 1, "`"), from + 1);
    const char *argv[32] = {BAY_BIN_DIR "/plugbay", "--broker", h.url};
    size_t n = 3;
    for (char *w = strtok(line + strlen("plugbay "), " "); w && n < 31; w = strtok(NULL, " "))
        argv[n++] = w;
    argv[n] = NULL;
    char out[1024], errout[1024];
    cr_assert_eq(h_run(&h, argv, out, sizeof out, errout, sizeof errout), 0, "stderr: %s", errout);
}

Test(reload, new_permissions_wait_for_a_grant_while_the_old_version_serves)
{
    bay_error err;
    refused(MANIFEST("1.1.0", "Hello", "\"permissions\": [\"call:host.now\"],",
                     ", {\"name\": \"re.started\", \"kind\": \"event\", \"function\": \"app_started\"}"),
            BAY_EPERM, &err);
    cr_assert(strstr(err.message, "now asks for call:host.now, provide:re.started, not granted") &&
                  strstr(err.message, "`plugbay grant re/hello --grant call:host.now --grant provide:re.started`") &&
                  strstr(err.message, "version 1.0.0 keeps serving") && strstr(err.message, "`plugbay reload re/hello`"),
              "message: %s", err.message);
    serves("1.0.0", "Hello, x!");
    grant_as_written(err.message);
    cr_assert_eq(h_command(c, "reload", "re/hello", &err), 0, "%s", err.message);
    char s[64];
    cr_assert_str_eq(info_str("version", s, sizeof s), "1.1.0");
    bay_value *res = NULL;
    cr_assert_eq(h_call_json(c, "re.started", "[]", 5000, &res, &err), 0, "the new provide: %s", err.message);
    cr_assert_eq(bay_value_len(res), 1);
    cr_assert_str_eq(bay_value_str(bay_map_get(bay_map_get(bay_array_get(res, 0), "value"), "plugin"), NULL),
                     "re/hello");
    bay_value_free(res);
}

Test(reload, a_broken_manifest_is_refused_and_the_old_one_keeps_serving)
{
    const char *broken[] = {"{\"name\": \"Re\", \"version\": ,}", MANIFEST("1.x", "Howdy", "", "")};
    const char *why[] = {"plugin.json: line 1 column", "plugin.json: field \"version\": expected a semver string"};
    for (size_t i = 0; i < 2; i++) {
        bay_error err;
        refused(broken[i], BAY_EMANIFEST, &err);
        cr_assert(strstr(err.message, why[i]) && strstr(err.message, "version 1.0.0 keeps serving; once plugin.json is "
                                                                     "fixed, run `plugbay reload re/hello` again"),
                  "message: %s", err.message);
        serves("1.0.0", "Hello, x!");
    }
}

Test(reload, a_stopped_plugin_takes_its_new_manifest_at_its_next_load)
{
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "re/hello", &err), 0, "%s", err.message);
    h_write_manifest(&h, "re/hello", MANIFEST("2.0.0", "Hi", "", ""));
    cr_assert_eq(h_command(c, "load", "re/hello", &err), 0, "%s", err.message);
    serves("2.0.0", "Hi, x!");
}

Test(reload, a_dependency_cycle_is_refused)
{
    bay_error err;
    refused(MANIFEST("1.1.0", "Hello", "\"dependencies\": {\"re/hello\": \"*\"},", ""), BAY_EMANIFEST, &err);
    cr_assert(strstr(err.message, "field \"dependencies\": dependency cycle: re/hello -> re/hello"), "message: %s",
              err.message);
    serves("1.0.0", "Hello, x!");
}

/* ticks returns how many ticks re/timer counted. */
static int64_t ticks(void)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(h_call_json(c, "timer.count", "[]", 5000, &res, &err), 0, "%s", err.message);
    int64_t n = bay_value_int(res);
    bay_value_free(res);
    return n;
}

static bool ticked_twice(void *arg)
{
    (void)arg;
    return ticks() >= 2;
}

Test(reload, a_timer_added_to_the_manifest_ticks_after_the_reload)
{
    cr_assert_eq(ticks(), 0, "no timer yet");
    h_write_manifest(&h, "re/timer", TIMER("\"timers\": [{\"name\": \"tick\", \"interval_ms\": 50}],"));
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "re/timer", &err), 0, "%s", err.message);
    cr_assert(h_wait_until(ticked_twice, NULL, H_WAIT_MS), "the new timer ticks");
}

/* A host calling ext (re.greet) "x" in a loop, in a thread, on a connection of its own. */
struct loop {
    bay_conn *host;
    const char *ext;
    atomic_bool stop;
    atomic_int calls, failures;
    pthread_mutex_t mu;
    char first_failure[600]; /* under mu */
    char last[128];          /* the last answer, under mu */
    pthread_t thread;
};

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    while (!atomic_load(&l->stop)) {
        char out[128];
        bay_error err;
        int rc = h_call_str(l->host, l->ext, "x", 10000, out, sizeof out, &err);
        pthread_mutex_lock(&l->mu);
        if (rc != 0 && atomic_fetch_add(&l->failures, 1) == 0)
            snprintf(l->first_failure, sizeof l->first_failure, "%s: %s", bay_errname(rc), err.message);
        else if (rc == 0)
            snprintf(l->last, sizeof l->last, "%s", out);
        pthread_mutex_unlock(&l->mu);
        atomic_fetch_add(&l->calls, 1);
    }
    return NULL;
}

/* What the loop waits for: wanted as its last answer, or calls past at. */
struct sought {
    struct loop *l;
    const char *wanted;
    int at;
};

static bool loop_got(void *arg)
{
    struct sought *s = arg;
    pthread_mutex_lock(&s->l->mu);
    bool got = s->wanted == NULL || strcmp(s->l->last, s->wanted) == 0;
    pthread_mutex_unlock(&s->l->mu);
    return got && atomic_load(&s->l->calls) > s->at;
}

/* start_loop_on starts l calling ext and returns once it had a few answers. */
static void start_loop_on(struct loop *l, const char *ext)
{
    memset(l, 0, sizeof *l);
    l->ext = ext;
    l->host = h_connect(&h, "looping-host");
    pthread_mutex_init(&l->mu, NULL);
    pthread_create(&l->thread, NULL, loop_main, l);
    struct sought first = {l, NULL, 3};
    cr_assert(h_wait_until(loop_got, &first, H_WAIT_MS), "the loop's calls never ended");
}

/* start_loop starts l calling re.greet. */
static void start_loop(struct loop *l)
{
    start_loop_on(l, "re.greet");
}

/* stop_loop stops l and asserts that none of its calls failed. */
static void stop_loop(struct loop *l)
{
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    bay_close(l->host);
    cr_assert_eq(atomic_load(&l->failures), 0, "%d of %d calls failed, the first with %s", atomic_load(&l->failures),
                 atomic_load(&l->calls), l->first_failure);
}

Test(reload, a_host_calling_in_a_loop_has_no_failed_call_and_gets_the_new_config)
{
    struct loop l;
    start_loop(&l);
    pid_t old = h_worker_pid(c, "re/hello");
    h_write_manifest(&h, "re/hello", MANIFEST("1.1.0", "Howdy", "", ""));
    int before = atomic_load(&l.calls);
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "re/hello", &err), 0, "%s", err.message);
    cr_assert_gt(atomic_load(&l.calls), before, "no call was answered while the reload ran");
    struct sought howdy = {&l, "Howdy, x!", atomic_load(&l.calls) + 20};
    cr_assert(h_wait_until(loop_got, &howdy, H_WAIT_MS), "the loop never had the new greeting (last: %s)", l.last);
    cr_assert(h_wait_log(&h, "its previous worker ended: unloaded"), "the old worker stopped");
    pid_t now = h_worker_pid(c, "re/hello");
    cr_assert(now > 0 && now != old, "a new worker serves (old %d, now %d)", (int)old, (int)now);
    stop_loop(&l);
    serves("1.1.0", "Howdy, x!");
}

/* re/hello's manifest naming a function its code does not export: its worker's load fails. */
static const char unloadable[] =
    "{\"name\": \"Re\", \"version\": \"1.1.0\", \"language\": \"c\", \"entry\": \"plugin.so\", "
    "\"config\": {\"greeting\": \"Howdy\"}, "
    "\"provides\": [{\"name\": \"re.greet\", \"kind\": \"handle\", \"function\": \"no_such_function\"}]}";

Test(reload, a_new_version_that_fails_to_load_leaves_the_old_one_serving_and_says_why)
{
    struct loop l;
    start_loop(&l);
    pid_t old = h_worker_pid(c, "re/hello");
    h_write_manifest(&h, "re/hello", unloadable);
    bay_error err;
    int rc = h_command(c, "reload", "re/hello", &err);
    cr_assert_eq(rc, BAY_EUNAVAIL, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "re/hello was not reloaded: load failed:") &&
                  strstr(err.message, "no_such_function") && strstr(err.message, "version 1.0.0 keeps serving"),
              "message: %s", err.message);
    struct sought more = {&l, "Hello, x!", atomic_load(&l.calls) + 20};
    cr_assert(h_wait_until(loop_got, &more, H_WAIT_MS), "the old version went on answering (last: %s)", l.last);
    stop_loop(&l);
    cr_assert_eq(h_worker_pid(c, "re/hello"), old, "the old worker serves on");
    serves("1.0.0", "Hello, x!");
    h_write_manifest(&h, "re/hello", MANIFEST("1.2.0", "Hi", "", ""));
    cr_assert_eq(h_command(c, "reload", "re/hello", &err), 0, "a fixed version reloads: %s", err.message);
    serves("1.2.0", "Hi, x!");
}

/* A reload run in a thread, on a connection of its own. */
struct background {
    int rc;
    bay_error err;
    pthread_t thread;
};

static void *reload_main(void *arg)
{
    struct background *bg = arg;
    bay_conn *other = h_connect(&h, "other");
    bg->rc = h_command(other, "reload", "re/hello", &bg->err);
    bay_close(other);
    return NULL;
}

/* Two reloads at once: the second is refused while the first one's worker
 * starts, or, once that one serves, waits for the old worker and reloads again. */
Test(reload, a_reload_while_one_starts_is_refused_or_waits_its_turn)
{
    h_write_manifest(&h, "re/hello", MANIFEST("1.1.0", "Howdy", "", ""));
    struct background first;
    pthread_create(&first.thread, NULL, reload_main, &first);
    cr_assert(h_wait_log(&h, "reloading: worker"), "the first reload started a worker");
    bay_error err;
    int rc = h_command(c, "reload", "re/hello", &err);
    pthread_join(first.thread, NULL);
    cr_assert_eq(first.rc, 0, "the first reload: %s", first.err.message);
    cr_assert(rc == 0 || (rc == BAY_EBUSY && strstr(err.message, "re/hello is reloading already: its new worker is "
                                                                 "starting")),
              "got %s: %s", bay_errname(rc), err.message);
    serves("1.1.0", "Howdy, x!");
}

/* day_found tells whether plugbayd lists day/lua. */
static bool day_found(void *unused)
{
    bay_value *a = bay_map();
    bay_map_set(a, "id", bay_str("day/lua"));
    int rc = bay_command(c, "info", a, 5000, NULL, NULL);
    bay_value_free(a);
    return rc == 0;
}

/* A newcomer's day: a plugin folder added while plugbayd runs is found (and, with --autoinstall, installed and
 * loaded); its code and its manifest change and a reload takes both while a host calls it in a loop — no
 * restart of plugbayd, not one failed call. */
Test(reload, a_folder_added_then_its_code_and_manifest_changed_and_reloaded_under_calls_fail_no_call)
{
    h_copy_plugin(&h, "example/lua-hello", "day/lua");
    cr_assert(h_wait_until(day_found, NULL, H_WAIT_MS), "a folder added while plugbayd runs was not found");
    cr_assert(h_wait_state(c, "day/lua", "loaded", H_WAIT_MS), "a folder added while plugbayd runs was not loaded");
    struct loop l;
    start_loop_on(&l, "lua.greet");
    struct sought hello = {&l, "Hello, x!", 0};
    cr_assert(h_wait_until(loop_got, &hello, H_WAIT_MS), "last: %s", l.last);
    char main_lua[600];
    snprintf(main_lua, sizeof main_lua, "%s/day/lua/main.lua", h.plugins);
    h_edit_file(main_lua, "plugbay.config(\"greeting\") or \"Hello\"", "plugbay.config(\"greeting\") .. \" again\"");
    h_write_manifest(&h, "day/lua",
                     "{\"name\": \"Day\", \"version\": \"2.0.0\", \"language\": \"lua\", \"entry\": \"main.lua\", "
                     "\"provides\": [{\"name\": \"lua.greet\", \"kind\": \"handle\"}, "
                     "{\"name\": \"app.started\", \"kind\": \"event\"}], \"config\": {\"greeting\": \"Howdy\"}}");
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "day/lua", &err), 0, "%s", err.message);
    struct sought howdy = {&l, "Howdy again, x!", atomic_load(&l.calls) + 10};
    cr_assert(h_wait_until(loop_got, &howdy, H_WAIT_MS), "the new code and config never answered (last: %s)", l.last);
    stop_loop(&l);
    char version[32];
    bay_value *a = bay_map(), *info = NULL;
    bay_map_set(a, "id", bay_str("day/lua"));
    cr_assert_eq(bay_command(c, "info", a, 5000, &info, &err), 0, "%s", err.message);
    snprintf(version, sizeof version, "%s", bay_value_str(bay_map_get(info, "version"), NULL));
    bay_value_free(info);
    bay_value_free(a);
    cr_expect_str_eq(version, "2.0.0");
}
