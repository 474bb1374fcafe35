/* tests/e2e/test_failures.c — crashing, hanging and broken plugins: clear errors, restarts, nobody else affected. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

static void start_with(const char *const *ids, const char *const *extra)
{
    h_setup(&h, ids);
    h_start(&h, extra);
    c = h_connect(&h, "test-failures");
}

static void expect_hello_serves(void)
{
    char out[128];
    bay_error err;
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS)); /* it may still be loading */
    cr_assert_eq(h_call_str(c, "greet", "still", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, still!");
}

struct ping {
    const char *name;
};

static bool answers_pong(void *arg)
{
    char out[64] = "";
    return h_call_str(c, ((struct ping *)arg)->name, NULL, 2000, out, sizeof out, NULL) == 0 &&
           strcmp(out, "pong") == 0;
}

TestSuite(failures, .fini = stop, .timeout = 180);

Test(failures, crash_is_reported_restarted_and_isolated)
{
    const char *ids[] = {"example/hello", "test/crash", NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "test/crash", "loaded", H_WAIT_MS));
    pid_t before = h_worker_pid(c, "test/crash");
    bay_error err;
    int rc = h_call_str(c, "crash.now", NULL, 5000, NULL, 0, &err);
    cr_assert_eq(rc, BAY_ECRASHED, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "test/crash");
    cr_assert(strstr(err.message, "SIGSEGV") && strstr(err.message, "crash.now"), "message: %s", err.message);
    expect_hello_serves();
    struct ping p = {"crash.ping"};
    cr_assert(h_wait_until(answers_pong, &p, H_WAIT_MS), "test/crash was not restarted");
    cr_assert_neq(h_worker_pid(c, "test/crash"), before, "a new worker serves after the restart");
    /* Serving again, it keeps what its last failure was, and when. */
    char last[600];
    h_plugin_str(c, "test/crash", "last_failure", last, sizeof last);
    cr_assert(strstr(last, "SIGSEGV") && strstr(last, "restarting in"), "last_failure: %s", last);
    cr_assert_gt(h_plugin_int(c, "test/crash", "last_failure_ms"), 1700000000000LL);
}

Test(failures, crash_loop_stops_at_the_restart_limit)
{
    const char *ids[] = {"example/hello", "test/crash", NULL};
    const char *extra[] = {"--restart-limit", "3/60", NULL};
    start_with(ids, extra);
    struct ping p = {"crash.ping"};
    for (int i = 0; i < 3; i++) {
        cr_assert(h_wait_until(answers_pong, &p, H_WAIT_MS), "test/crash not serving before crash %d", i + 1);
        cr_assert_eq(h_call_str(c, "crash.now", NULL, 5000, NULL, 0, NULL), BAY_ECRASHED);
    }
    char state[64], reason[512];
    h_plugin_state(c, "test/crash", state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "failed");
    cr_assert(strstr(reason, "stays failed") && strstr(reason, "plugbay enable test/crash"), "reason: %s", reason);
    bay_error err;
    int rc = h_call_str(c, "crash.ping", NULL, 2000, NULL, 0, &err);
    cr_assert_eq(rc, BAY_ENOPROVIDER);
    cr_assert(strstr(err.message, "test/crash provides it but is failed"), "message: %s", err.message);
    expect_hello_serves();
    /* A user enables it again, as the reason says. */
    char out[512], why[1024];
    cr_assert_eq(h_run_suggested(&h, reason, 0, out, sizeof out, why, sizeof why), 0, "%s: %s", reason, why);
    cr_assert(h_wait_until(answers_pong, &p, H_WAIT_MS));
}

Test(failures, hung_plugin_times_out_then_is_killed_and_restarted)
{
    const char *ids[] = {"example/hello", "test/hang", NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "test/hang", "loaded", H_WAIT_MS));
    pid_t before = h_worker_pid(c, "test/hang");
    bay_error err;
    long long t0 = h_now_ms();
    int rc = h_call_str(c, "hang.forever", NULL, 300, NULL, 0, &err);
    cr_assert_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "test/hang");
    cr_assert(h_now_ms() - t0 < 1300, "the caller waited %lld ms", h_now_ms() - t0);
    expect_hello_serves();
    struct ping p = {"hang.ping"};
    cr_assert(h_wait_until(answers_pong, &p, H_WAIT_MS), "test/hang was not restarted");
    cr_assert_neq(h_worker_pid(c, "test/hang"), before);
    cr_assert(h_wait_log(&h, "hung: hang.forever"));
}

Test(failures, polite_plugin_returns_on_cancel_and_is_not_restarted)
{
    const char *ids[] = {"test/hang", NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "test/hang", "loaded", H_WAIT_MS));
    pid_t before = h_worker_pid(c, "test/hang");
    cr_assert_eq(h_call_str(c, "hang.polite", NULL, 200, NULL, 0, NULL), BAY_ETIMEDOUT);
    struct ping p = {"hang.ping"};
    cr_assert(h_wait_until(answers_pong, &p, H_WAIT_MS));
    cr_assert_eq(h_worker_pid(c, "test/hang"), before, "a plugin that honours cancel keeps its worker");
}

Test(failures, malformed_manifests_are_named_and_the_others_still_load)
{
    const char *ids[] = {"example/hello", "broken/badjson", "broken/nofield", "broken/wrongtype", "broken/badsemver",
                         NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    const struct {
        const char *id, *needle;
    } cases[] = {
        {"broken/badjson", "line"},
        {"broken/nofield", "\"version\""},
        {"broken/wrongtype", "\"provides\""},
        {"broken/badsemver", "semver"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char state[64], reason[512];
        h_plugin_state(c, cases[i].id, state, sizeof state, reason, sizeof reason);
        cr_assert_str_eq(state, "invalid", "%s", cases[i].id);
        cr_assert(strstr(reason, "plugin.json") && strstr(reason, cases[i].needle), "%s: %s", cases[i].id, reason);
    }
    expect_hello_serves();
}

Test(failures, failing_on_load_marks_the_plugin_failed_with_its_message)
{
    const char *ids[] = {"example/hello", "test/badload", NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "test/badload", "failed", H_WAIT_MS));
    char state[64], reason[512];
    h_plugin_state(c, "test/badload", state, sizeof state, reason, sizeof reason);
    cr_assert(strstr(reason, "load failed"), "reason: %s", reason);
    cr_assert(h_wait_log(&h, "refusing to load: missing license key"));
    expect_hello_serves();
}

Test(failures, plugin_output_goes_to_the_log_tagged_with_its_id)
{
    const char *ids[] = {"test/slow", NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "test/slow", "loaded", H_WAIT_MS));
    cr_assert(h_wait_log(&h, "[test/slow] output: stdout-line from slow"));
    cr_assert(h_wait_log(&h, "[test/slow] output: stderr-line from slow"));
}

struct gone {
    pid_t pid;
};

/* process_gone is true once pid has exited (a zombie waiting for init counts as gone). */
static bool process_gone(void *arg)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", ((struct gone *)arg)->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

Test(failures, workers_die_with_a_killed_broker_and_a_new_broker_starts_clean)
{
    const char *ids[] = {"example/hello", NULL};
    start_with(ids, NULL);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    struct gone g = {h_worker_pid(c, "example/hello")};
    cr_assert_gt(g.pid, 0);
    bay_close(c);
    h_kill(&h);
    cr_assert(h_wait_until(process_gone, &g, H_WAIT_MS), "worker %d outlived its broker", g.pid);
    h_start(&h, NULL);
    c = h_connect(&h, "test-failures");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    expect_hello_serves();
}

Test(failures, restart_counts_and_reasons_agree)
{
    const char *ids[] = {"example/hello", "test/crash", NULL};
    start_with(ids, NULL); /* --restart-limit 5/60 */
    struct ping p = {"crash.ping"};
    char state[64], reason[512], want[64];
    for (int i = 1; i <= 5; i++) {
        cr_assert(h_wait_until(answers_pong, &p, H_WAIT_MS), "test/crash not serving before crash %d", i);
        cr_assert_eq(h_call_str(c, "crash.now", NULL, 5000, NULL, 0, NULL), BAY_ECRASHED);
        h_plugin_state(c, "test/crash", state, sizeof state, reason, sizeof reason);
        int64_t restarts = h_plugin_int(c, "test/crash", "restarts");
        snprintf(want, sizeof want, i < 5 ? "(restart %d)" : "failed 5 times within 60 s (after %d restarts)", i < 5 ? i : 4);
        cr_expect_eq(restarts, i < 5 ? i : 4, "after crash %d: restarts %lld beside \"%s\"", i, (long long)restarts, reason);
        cr_expect(strstr(reason, want), "after crash %d: \"%s\" lacks \"%s\"", i, reason, want);
    }
    bay_error err;
    cr_assert_eq(h_command(c, "enable", "test/crash", &err), 0, "%s", err.message);
    cr_expect_eq(h_plugin_int(c, "test/crash", "restarts"), 0, "enabling starts the count again");
}

/* A plugbayd that is not scheduled for longer than its heartbeats allow (a stopped process here, an overloaded
 * machine in CI) does not blame its workers when it runs again: none is killed as hung, and it says why. */
Test(failures, a_stalled_broker_kills_no_worker_for_the_heartbeats_it_could_not_read)
{
    const char *ids[] = {"example/hello", "test/slow", NULL};
    start_with(ids, NULL);
    h_wait_loaded(c, ids);
    pid_t hello = h_worker_pid(c, "example/hello"), slow = h_worker_pid(c, "test/slow");
    cr_assert_eq(kill(h.broker, SIGSTOP), 0);
    /* The pause is the test: three heartbeats of the harness's 500 ms, and more. */
    struct timespec pause = {2, 500 * 1000000L};
    nanosleep(&pause, NULL);
    cr_assert_eq(kill(h.broker, SIGCONT), 0);
    expect_hello_serves(); /* plugbayd ran again: it watched its workers before it answered */
    cr_assert(!h_log_contains(&h, "stopped answering heartbeats"), "a worker was blamed for plugbayd's stall");
    cr_assert_eq(h_worker_pid(c, "example/hello"), hello, "example/hello's worker was replaced");
    cr_assert_eq(h_worker_pid(c, "test/slow"), slow, "test/slow's worker was replaced");
    cr_assert(h_wait_log(&h, "plugbayd itself did not run for"), "the stall was not logged");
}
