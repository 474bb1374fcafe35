/* tests/e2e/test_replicas.c — a plugin's replicas under the real broker: calls spread over four workers, each its
 * own process; an unload and a reload drain them all without a failed call; a replica that crashes is started again
 * while the others serve; a settings change starts them anew; no fast channel to a replicated plugin; replicas
 * beyond a cap and malformed counts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* test/slow's code with that many replicas and a setting; n names its extension points "rep.n.who", "rep.n.sleep". */
#define MANIFEST(replicas, n)                                                                                        \
    "{\"name\": \"Replicated\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\", "              \
    "\"replicas\": " replicas ", "                                                                                  \
    "\"settings\": {\"level\": {\"type\": \"integer\", \"default\": 1, \"description\": \"a level\"}}, "              \
    "\"provides\": ["                                                                                              \
    "{\"name\": \"rep." n ".who\", \"kind\": \"handle\", \"function\": \"slow_who\"},"                              \
    "{\"name\": \"rep." n ".sleep\", \"kind\": \"handle\", \"function\": \"slow_sleep\"}]}"

static void start(void)
{
    h_setup(&h, NULL);
    h_clone_plugin(&h, "test/slow", "rep/four", MANIFEST("4", "four"));
    h_clone_plugin(&h, "test/slow", "rep/many", MANIFEST("9", "many"));
    h_clone_plugin(&h, "test/slow", "rep/zero", MANIFEST("0", "zero"));
    h_clone_plugin(&h, "test/slow", "rep/huge", MANIFEST("65", "huge"));
    h_clone_plugin(&h, "test/slow", "rep/text", MANIFEST("\"two\"", "text"));
    h_start(&h, NULL);
    c = h_connect(&h, "test-replicas");
    const char *ids[] = {"rep/four", NULL};
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(replicas, .init = start, .fini = stop, .timeout = 180);

/* serving counts rep/four's workers that serve now, its own included (status's replica_workers). */
static int serving(bay_conn *conn)
{
    bay_value *info = NULL;
    bay_value *args = bay_map();
    bay_map_set(args, "id", bay_str("rep/four"));
    bay_error err;
    int n = -1;
    if (bay_command(conn, "info", args, 10000, &info, &err) == 0) {
        const bay_value *list = bay_map_get(info, "replica_workers");
        n = strcmp(bay_value_str(bay_map_get(info, "state"), NULL), "loaded") == 0;
        for (size_t i = 0; i < bay_value_len(list); i++)
            n += strcmp(bay_value_str(bay_map_get(bay_array_get(list, i), "state"), NULL), "serving") == 0;
    }
    bay_value_free(args);
    bay_value_free(info);
    return n;
}

static bool four_serve(void *arg)
{
    return serving(c) == 4;
}

/* replica_pid returns the pid of rep/four's replica number which (2 to 4), 0 when it has none. */
static pid_t replica_pid(int which)
{
    bay_value *info = NULL, *args = bay_map();
    bay_map_set(args, "id", bay_str("rep/four"));
    bay_error err;
    pid_t pid = 0;
    cr_assert_eq(bay_command(c, "info", args, 10000, &info, &err), 0, "%s", err.message);
    const bay_value *list = bay_map_get(info, "replica_workers");
    for (size_t i = 0; i < bay_value_len(list); i++)
        if (bay_value_int(bay_map_get(bay_array_get(list, i), "replica")) == which)
            pid = (pid_t)bay_value_int(bay_map_get(bay_array_get(list, i), "pid"));
    bay_value_free(args);
    bay_value_free(info);
    return pid;
}

/* spread starts n calls of name(ms) at once and returns how many different workers answered them; every call
 * must succeed. */
static int spread(const char *name, int n, int ms)
{
    bay_pending *p[16];
    bay_value *args = bay_array();
    bay_array_push(args, bay_int(ms));
    bay_error err;
    for (int i = 0; i < n; i++)
        cr_assert_eq(bay_call_async(c, name, args, &(bay_call_opts){.timeout_ms = 30000}, &p[i], &err), 0, "%s",
                     err.message);
    char marks[16][64];
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        bay_value *res = NULL;
        cr_assert_eq(bay_pending_wait(p[i], -1, &res, &err), 0, "call %d: %s", i, err.message);
        const char *m = bay_value_str(res, NULL);
        bool seen = false;
        for (int k = 0; k < distinct; k++)
            seen |= strcmp(marks[k], m) == 0;
        if (!seen)
            snprintf(marks[distinct++], sizeof marks[0], "%s", m);
        bay_value_free(res);
        bay_pending_free(p[i]);
    }
    bay_value_free(args);
    return distinct;
}

/* start_sleeps starts n calls of rep.four.sleep(ms) into p. */
static void start_sleeps(bay_pending **p, int n, int ms)
{
    bay_value *args = bay_array();
    bay_array_push(args, bay_int(ms));
    bay_error err;
    for (int i = 0; i < n; i++)
        cr_assert_eq(bay_call_async(c, "rep.four.sleep", args, &(bay_call_opts){.timeout_ms = 30000}, &p[i], &err), 0,
                     "%s", err.message);
    bay_value_free(args);
}

/* all_succeed asserts that each of the n calls in p succeeded, during what, and frees them. */
static void all_succeed(bay_pending **p, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        bay_value *res = NULL;
        bay_error err;
        cr_assert_eq(bay_pending_wait(p[i], -1, &res, &err), 0, "call %d failed in the %s: %s", i, what, err.message);
        bay_value_free(res);
        bay_pending_free(p[i]);
    }
}

Test(replicas, calls_spread_over_four_workers_each_its_own_process)
{
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS), "rep/four runs 4 serving workers (got %d)", serving(c));
    pid_t pids[4] = {h_worker_pid(c, "rep/four"), replica_pid(2), replica_pid(3), replica_pid(4)};
    for (int i = 0; i < 4; i++) {
        cr_assert_gt(pids[i], 0, "worker %d has a pid", i + 1);
        for (int k = 0; k < i; k++)
            cr_assert_neq(pids[i], pids[k], "each replica is a process of its own");
    }
    cr_assert_eq(spread("rep.four.who", 4, 300), 4, "four calls at once go to four workers");
    cr_assert_eq(spread("rep.four.who", 8, 100), 4, "eight calls at once still use all four, and only those");
    cr_assert_eq(h_fast_channels(c), 0, "no fast channel goes to a plugin whose calls plugbayd spreads");

    /* info's CPU time and memory count every worker: each replica's own, and the plugin's all of them. */
    bay_value *info = NULL, *args = bay_map();
    bay_map_set(args, "id", bay_str("rep/four"));
    bay_error err;
    cr_assert_eq(bay_command(c, "info", args, 10000, &info, &err), 0, "%s", err.message);
    const bay_value *list = bay_map_get(info, "replica_workers");
    int64_t replicas_kb = 0;
    for (size_t i = 0; i < bay_value_len(list); i++) {
        const bay_value *one = bay_array_get(list, i);
        cr_assert_gt(bay_value_int(bay_map_get(one, "pss_kb")), 0, "replica %zu has its PSS", i + 2);
        cr_assert_geq(bay_value_int(bay_map_get(one, "cpu_ms")), 0, "replica %zu has its CPU time", i + 2);
        replicas_kb += bay_value_int(bay_map_get(one, "pss_kb"));
    }
    int64_t all_kb = bay_value_int(bay_map_get(info, "pss_kb"));
    cr_assert_gt(all_kb * 10, replicas_kb * 9, "the plugin's PSS (%lld kB) counts its replicas' (%lld kB)",
                 (long long)all_kb, (long long)replicas_kb);
    bay_value_free(args);
    bay_value_free(info);
}

Test(replicas, an_unload_drains_every_replica_without_a_failed_call)
{
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS));
    pid_t pids[3] = {replica_pid(2), replica_pid(3), replica_pid(4)};
    bay_pending *p[8];
    start_sleeps(p, 8, 400);
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "rep/four", &err), 0, "%s", err.message);
    all_succeed(p, 8, "unload");
    cr_assert(h_wait_state(c, "rep/four", "stopped", H_WAIT_MS));
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", pids[i]);
        for (long long t0 = h_now_ms(); access(path, F_OK) == 0 && h_now_ms() - t0 < H_WAIT_MS;)
            usleep(10000);
        cr_assert_neq(access(path, F_OK), 0, "replica %d's worker %d ended with the unload", i + 2, pids[i]);
    }
    cr_assert_eq(h_command(c, "load", "rep/four", &err), 0, "%s", err.message);
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS), "its replicas start again with its next load");
}

Test(replicas, a_reload_swaps_every_worker_without_a_failed_call)
{
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS));
    pid_t before = replica_pid(2);
    bay_pending *p[8], *during[8];
    start_sleeps(p, 8, 300);
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "rep/four", &err), 0, "%s", err.message);
    start_sleeps(during, 8, 300); /* more calls while the versions swap */
    all_succeed(p, 8, "reload");
    all_succeed(during, 8, "reload's switch");
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS), "four workers serve the reloaded plugin");
    cr_assert_neq(replica_pid(2), before, "its replicas were started anew beside its new worker");
    cr_assert_eq(spread("rep.four.who", 4, 300), 4);
}

/* A replica, and the pid it had before it was to start again. */
struct anew {
    int which;
    pid_t old;
};

/* replica_anew tells whether replica a->which runs in a worker other than a->old, and all four serve. */
static bool replica_anew(void *arg)
{
    const struct anew *a = arg;
    pid_t now = replica_pid(a->which);
    return now != 0 && now != a->old && serving(c) == 4;
}

Test(replicas, a_settings_change_reaches_every_replica_by_starting_it_again)
{
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS));
    struct anew third = {3, replica_pid(3)};
    bay_error err;
    cr_assert_eq(h_set_setting(c, "rep/four", "level", "2", &err), 0, "%s", err.message);
    cr_assert(h_wait_until(replica_anew, &third, H_WAIT_MS), "replica 3 starts again with the new settings");
    cr_assert_eq(spread("rep.four.who", 4, 200), 4);
}

Test(replicas, a_crashed_replica_is_started_again_while_the_others_serve)
{
    cr_assert(h_wait_until(four_serve, NULL, H_WAIT_MS));
    pid_t victim = replica_pid(2);
    cr_assert_gt(victim, 0);
    cr_assert_eq(kill(victim, SIGKILL), 0);
    cr_assert(h_wait_log(&h, "replica 2 ended"), "its end is logged");
    char state[64];
    h_plugin_state(c, "rep/four", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "loaded", "a replica's crash does not fail its plugin");
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int(0));
    bay_error err;
    cr_assert_eq(bay_call(c, "rep.four.who", args, NULL, &res, &err), 0, "the others serve: %s", err.message);
    bay_value_free(res);
    bay_value_free(args);
    struct anew second = {2, victim};
    cr_assert(h_wait_until(replica_anew, &second, H_WAIT_MS), "replica 2 starts again");
}

Test(replicas, replicas_beyond_the_cap_or_malformed_are_refused)
{
    char state[64], reason[512];
    cr_assert(h_wait_state(c, "rep/many", "failed", H_WAIT_MS));
    h_plugin_state(c, "rep/many", state, sizeof state, reason, sizeof reason);
    cr_assert(strstr(reason, "rep/many asks for 9 replicas in its plugin.json; this plugbayd runs at most 8 workers "
                             "per plugin (--replicas-max)"), "%s", reason);
    const char *bad[] = {"rep/zero", "rep/huge", "rep/text"};
    for (int i = 0; i < 3; i++) {
        h_plugin_state(c, bad[i], state, sizeof state, reason, sizeof reason);
        cr_assert_str_eq(state, "invalid", "%s", bad[i]);
        cr_assert(strstr(reason, "field \"replicas\": expected an integer from 1 to 64"), "%s: %s", bad[i], reason);
    }
    cr_assert_eq(serving(c) >= 1, true, "rep/four still serves");
}
