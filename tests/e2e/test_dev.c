/* tests/e2e/test_dev.c — plugbay dev as a child process: a host calling the plugin in a loop sees an edit's new
 * answer without one failed call, a broken build is shown while the version before keeps answering, and SIGTERM
 * stops it and removes its folders. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

extern char **environ;

static harness h;

/* The plugbay dev running. */
static struct {
    pid_t pid;
    char out[600];  /* its stdout and stderr */
    char url[600];  /* the URL it printed */
    char tmp[600];  /* its private plugbayd's folder */
    bay_conn *conn; /* a host connected to it */
} dev;

static void start(void)
{
    h_setup(&h, NULL); /* only its temporary folder: plugbay dev starts a plugbayd of its own */
    memset(&dev, 0, sizeof dev);
}

static bool dev_exited(void *arg)
{
    int *status = arg;
    return waitpid(dev.pid, status, WNOHANG) == dev.pid;
}

/* stop stops plugbay dev with SIGTERM: it must exit 0 and leave no folder of its own behind. */
static void stop(void)
{
    bay_close(dev.conn);
    if (dev.pid > 0) {
        int status = -1;
        kill(dev.pid, SIGTERM);
        bool ended = h_wait_until(dev_exited, &status, H_WAIT_MS);
        if (!ended)
            kill(dev.pid, SIGKILL);
        cr_expect(ended && WIFEXITED(status) && WEXITSTATUS(status) == 0, "plugbay dev ended with 0x%x", status);
        struct stat st;
        cr_expect(dev.tmp[0] && stat(dev.tmp, &st) != 0, "plugbay dev left %s behind", dev.tmp);
    }
    h_cleanup(&h);
}

TestSuite(dev, .init = start, .fini = stop, .timeout = 300);

/* said returns true when plugbay dev's output holds needle, copying the output to text (len bytes). */
static bool said_into(const char *needle, char *text, size_t len)
{
    FILE *f = fopen(dev.out, "r");
    size_t n = f ? fread(text, 1, len - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    return strstr(text, needle) != NULL;
}

static bool said(void *needle)
{
    char text[16384];
    return said_into(needle, text, sizeof text);
}

/* run_dev makes a plugin of lang (id kit/NAME-dev), starts plugbay dev on it, reads the URL it prints and connects;
 * path receives the plugin's folder. */
static void run_dev(const char *lang, char *path, size_t len)
{
    char id[64], out[4096], err[4096];
    snprintf(id, sizeof id, "kit/%s-dev", lang);
    snprintf(path, len, "%s/%s-dev", h.dir, lang);
    const char *new[] = {BAY_BIN_DIR "/plugbay", "new", "--lang", lang, id, path, NULL};
    cr_assert_eq(h_run(&h, new, out, sizeof out, err, sizeof err), 0, "%s", err);
    snprintf(dev.out, sizeof dev.out, "%s/dev.out", h.dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, dev.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "dev", path, NULL};
    cr_assert_eq(posix_spawn(&dev.pid, argv[0], &fa, NULL, (char **)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    char text[16384];
    cr_assert(h_wait_until(said, "PLUGBAY_BROKER=", 120000), "plugbay dev printed no URL: %s",
              (said_into("", text, sizeof text), text));
    said_into("", text, sizeof text);
    sscanf(strstr(text, "PLUGBAY_BROKER=") + strlen("PLUGBAY_BROKER="), "%599s", dev.url);
    const char *state = strstr(dev.url, "/state/plugbayd.sock");
    cr_assert_not_null(state, "%s", dev.url);
    snprintf(dev.tmp, sizeof dev.tmp, "%.*s", (int)(state - dev.url - strlen("ipc://")), dev.url + strlen("ipc://"));
    cr_assert_eq(bay_connect(dev.url, "test-dev", &dev.conn, NULL), 0, "cannot connect to %s", dev.url);
}

/* A host calling point with args (a JSON array) over and over; got holds the last answer as JSON. */
typedef struct caller {
    const char *point, *args, *want;
    int calls, failed;
    char got[256], why[600];
} caller;

/* answers calls once and tells whether the answer is what the caller wants now; a failed call is counted. */
static bool answers(void *arg)
{
    caller *c = arg;
    bay_error err;
    bay_value *res = NULL;
    char *json = NULL;
    c->calls++;
    if (h_call_json(dev.conn, c->point, c->args, 5000, &res, &err) != 0) {
        c->failed++;
        snprintf(c->why, sizeof c->why, "%s", err.message);
        return false;
    }
    cr_assert_eq(bay_value_to_json(res, &json), 0);
    snprintf(c->got, sizeof c->got, "%s", json);
    free(json);
    bay_value_free(res);
    return strcmp(c->got, c->want) == 0;
}

/* edit_answers asserts that point answers before when called with args, edits the plugin's file as h_edit_file
 * does and waits until it answers want (each as JSON), asserting that no call failed meanwhile. */
static void edit_answers(const char *path, const char *file, const char *from, const char *to, caller c,
                         const char *before)
{
    char at[700], text[16384];
    const char *want = c.want;
    c.want = before;
    cr_assert(answers(&c), "%s answered %s before the edit", c.point, c.got);
    snprintf(at, sizeof at, "%s/%s", path, file);
    h_edit_file(at, from, to);
    c.want = want;
    cr_assert(h_wait_until(answers, &c, 120000), "%s still answers %s after %d calls; plugbay dev said: %s", c.point,
              c.got, c.calls, (said_into("", text, sizeof text), text));
    cr_assert_eq(c.failed, 0, "%d of %d calls failed while it reloaded, the last: %s", c.failed, c.calls, c.why);
    cr_assert(h_wait_until(said, "rebuilt and reloaded", H_WAIT_MS), "%s", (said_into("", text, sizeof text), text));
}

/* greeting is a caller of NAME.greet("dev") waiting for want. */
#define greeting(name, text) ((caller){.point = name ".greet", .args = "[\"dev\"]", .want = text})
#define HELLO "\"Hello, dev!\""
#define AGAIN "\"Hello, dev, again!\""

Test(dev, an_edited_lua_plugin_answers_anew_without_a_failed_call)
{
    char path[600];
    run_dev("lua", path, sizeof path);
    edit_answers(path, "main.lua", "\"%s, %s!\"", "\"%s, %s, again!\"", greeting("lua-dev", AGAIN), HELLO);
}

Test(dev, an_edited_python_plugin_answers_anew_without_a_failed_call)
{
    char path[600];
    run_dev("python", path, sizeof path);
    edit_answers(path, "main.py", "{name}!\"", "{name}, again!\"", greeting("python-dev", AGAIN), HELLO);
}

/* build_failed asserts that the C plugin answers (its version before the broken build) and tells whether plugbay dev
 * said the build failed. */
static bool build_failed(void *arg)
{
    caller *c = arg;
    cr_assert(answers(c), "a call failed after the broken build: %s (got \"%s\")", c->why, c->got);
    return said("the build failed");
}

Test(dev, an_edited_c_plugin_is_rebuilt_and_a_broken_build_keeps_the_version_before)
{
    char path[600], file[700], text[16384];
    run_dev("c", path, sizeof path);
    edit_answers(path, "plugin.c", "\"%s, %s!\"", "\"%s, %s, again!\"", greeting("c-dev", AGAIN), HELLO);
    snprintf(file, sizeof file, "%s/plugin.c", path);
    h_edit_file(file, "return *result ? 0 : BAY_ENOMEM;", "return *result ? 0 : BAY_ENOMEM /* broken */");
    caller c = greeting("c-dev", AGAIN);
    cr_assert(h_wait_until(build_failed, &c, 120000), "plugbay dev did not say the build failed: %s",
              (said_into("", text, sizeof text), text));
    cr_assert(said("plugin.c:") && said("the version before keeps serving"), "%s",
              (said_into("", text, sizeof text), text));
    h_edit_file(file, "BAY_ENOMEM /* broken */", "BAY_ENOMEM;");
    h_edit_file(file, "\"%s, %s, again!\"", "\"%s, %s, fixed!\"");
    c.want = "\"Hello, dev, fixed!\"";
    cr_assert(h_wait_until(answers, &c, 120000), "the fixed plugin does not answer: %s", c.got);
    cr_assert_eq(c.failed, 0, "%d calls failed, the last: %s", c.failed, c.why);
}

Test(dev, an_edited_wasm_plugin_is_rebuilt_and_answers_anew_without_a_failed_call)
{
    char path[600];
    run_dev("wasm", path, sizeof path);
    edit_answers(path, "plugin.c", "\"%.*s, %.*s!\"", "\"%.*s, %.*s, again!\"", greeting("wasm-dev", AGAIN), HELLO);
}

Test(dev, an_ffi_binding_edited_in_its_manifest_answers_anew_without_a_failed_call)
{
    char path[600];
    run_dev("ffi", path, sizeof path);
    caller c = {.point = "ffi-dev.pow", .args = "[2.0, 3.0]", .want = "3.0"};
    edit_answers(path, "plugin.json", "double pow(double x, double y)", "double fmax(double x, double y)", c, "8.0");
}
