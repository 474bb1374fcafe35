/* tests/e2e/test_lifecycle.c — load, unload, reload and drain under traffic; state across restarts; timers. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"example/hello", "example/audit", "test/slow", "test/timer", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-lifecycle");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(lifecycle, .init = start, .fini = stop, .timeout = 180);

static bay_value *int_args(int64_t v)
{
    bay_value *a = bay_array();
    bay_array_push(a, bay_int(v));
    return a;
}

struct inflight {
    const char *id;
    int want;
};

static bool has_inflight(void *arg)
{
    struct inflight *w = arg;
    bay_value *a = bay_map(), *out = NULL;
    bay_map_set(a, "id", bay_str(w->id));
    bay_command(c, "info", a, 5000, &out, NULL);
    bool ok = bay_value_int(bay_map_get(out, "inflight")) == w->want;
    bay_value_free(a);
    bay_value_free(out);
    return ok;
}

Test(lifecycle, unload_waits_for_in_flight_calls)
{
    bay_conn *caller = h_connect(&h, "caller");
    bay_value *args = int_args(400), *res = NULL;
    bay_pending *p;
    bay_error err;
    cr_assert_eq(bay_call_async(caller, "slow.sleep", args, NULL, &p, &err), 0, "%s", err.message);
    struct inflight w = {"test/slow", 1};
    cr_assert(h_wait_until(has_inflight, &w, H_WAIT_MS));
    cr_assert_eq(h_command(c, "unload", "test/slow", &err), 0, "%s", err.message);
    /* The unload drained the call: it ended with its result, not cancelled. Its answer goes to another connection,
     * whose receiver may take it a moment after this one took the unload's. */
    cr_assert_eq(bay_pending_wait(p, H_WAIT_MS, &res, &err), 0, "the in-flight call ended with %s", err.message);
    cr_assert_eq(bay_value_int(res), 400);
    bay_value_free(res);
    char state[64];
    h_plugin_state(c, "test/slow", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "stopped");
    /* New calls get a clear error naming the plugin and its state. */
    int rc = bay_call(caller, "slow.sleep", args, NULL, &res, &err);
    cr_assert_eq(rc, BAY_ENOPROVIDER);
    cr_assert(strstr(err.message, "test/slow provides it but is stopped"), "message: %s", err.message);
    bay_value_free(res);
    bay_value_free(args);
    bay_pending_free(p);
    bay_close(caller);
}

/* fast_path tells whether this run's hosts call over fast channels (PLUGBAY_FASTPATH is not 0). */
static bool fast_path(void)
{
    const char *env = getenv("PLUGBAY_FASTPATH");
    return env == NULL || strcmp(env, "0") != 0;
}

/* A slow.sleep call running in a thread, from a host of its own. */
struct long_call {
    bay_conn *host;
    int64_t ms;
    long long started_ms;
    atomic_bool done;
    int rc;
    int64_t value;
    bay_error err;
    pthread_t thread;
};

static void *long_call_main(void *arg)
{
    struct long_call *lc = arg;
    bay_value *args = int_args(lc->ms), *res = NULL;
    bay_call_opts o = {.timeout_ms = (int)lc->ms + H_WAIT_MS};
    lc->rc = bay_call(lc->host, "slow.sleep", args, &o, &res, &lc->err);
    lc->value = lc->rc == 0 ? bay_value_int(res) : -1;
    bay_value_free(res);
    bay_value_free(args);
    atomic_store(&lc->done, true);
    return NULL;
}

/* start_long_call makes test/slow sleep ms in a call — over a fast channel
 * unless PLUGBAY_FASTPATH=0 — and returns once its worker runs it. */
static void start_long_call(struct long_call *lc, int64_t ms)
{
    *lc = (struct long_call){.host = h_connect(&h, "long-caller"), .ms = ms};
    bay_error err;
    cr_assert_eq(h_call_str(lc->host, "slow.echo", NULL, 0, NULL, 0, &err), 0, "%s", err.message);
    cr_assert_eq(h_fast_channels(c) > 0, fast_path(), "the call goes %s",
                 fast_path() ? "over a fast channel" : "through plugbayd");
    pid_t worker = h_worker_pid(c, "test/slow");
    lc->started_ms = h_now_ms();
    pthread_create(&lc->thread, NULL, long_call_main, lc);
    cr_assert(h_wait_until(h_main_thread_sleeps, &worker, H_WAIT_MS), "test/slow never started the call");
}

static void finish_long_call(struct long_call *lc)
{
    pthread_join(lc->thread, NULL);
    bay_close(lc->host);
}

/* A lifecycle command run in a thread, so that the test can look meanwhile. */
struct background {
    const char *command;
    int rc;
    long long ended_ms;
    bay_error err;
    pthread_t thread;
};

static void *background_main(void *arg)
{
    struct background *bg = arg;
    bg->rc = h_command(c, bg->command, "test/slow", &bg->err);
    bg->ended_ms = h_now_ms();
    return NULL;
}

/* drained_in_time checks that the long call had its result, that command
 * (which ended at ended_ms) waited for it, and that no worker was killed. */
static void drained_in_time(struct long_call *lc, const char *command, long long ended_ms)
{
    finish_long_call(lc);
    cr_assert_eq(lc->rc, 0, "the call in flight during %s ended with %s: %s", command, bay_errname(lc->rc),
                 lc->err.message);
    cr_assert_eq(lc->value, lc->ms);
    cr_assert_geq(ended_ms - lc->started_ms, lc->ms, "%s ended %lld ms after the %lld ms call began", command,
                  ended_ms - lc->started_ms, (long long)lc->ms);
    cr_assert(!h_log_contains(&h, "did not finish unloading in time"), "%s killed the worker (log %s)", command,
              h.log);
}

/* The worker gets 2 s to exit after COMMAND unload: each call below runs longer. */
Test(lifecycle, unload_drains_a_call_longer_than_the_exit_grace_and_refuses_new_ones_at_once)
{
    bay_conn *other = h_connect(&h, "other");
    bay_error err;
    cr_assert_eq(h_call_str(other, "slow.echo", NULL, 0, NULL, 0, &err), 0, "%s", err.message);
    struct long_call lc;
    start_long_call(&lc, 3000);
    struct background unload = {.command = "unload"};
    pthread_create(&unload.thread, NULL, background_main, &unload);
    /* other reads the state on its own connection, after the notices that revoked its channel. */
    cr_assert(h_wait_state(other, "test/slow", "unloading", H_WAIT_MS));
    int rc = h_call_str(other, "slow.echo", NULL, 10000, NULL, 0, &err);
    cr_assert_eq(rc, BAY_ENOPROVIDER, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "test/slow provides it but is unloading"), "message: %s", err.message);
    cr_assert(!atomic_load(&lc.done), "the new call was refused at once, not after the call in flight");
    pthread_join(unload.thread, NULL);
    cr_assert_eq(unload.rc, 0, "%s", unload.err.message);
    drained_in_time(&lc, "unload", unload.ended_ms);
    char state[64];
    h_plugin_state(c, "test/slow", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "stopped");
    bay_close(other);
}

/* reload_beside starts a call of ms on test/slow, reloads test/slow and
 * asserts that the reload answered before that call ended, a new worker
 * serving; it returns the old worker's pid. */
static pid_t reload_beside(struct long_call *lc, int64_t ms)
{
    start_long_call(lc, ms);
    pid_t old = h_worker_pid(c, "test/slow");
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "test/slow", &err), 0, "%s", err.message);
    long long waited = h_now_ms() - lc->started_ms;
    cr_assert_lt(waited, lc->ms, "the reload waited %lld ms, for the call in flight", waited);
    cr_assert(!atomic_load(&lc->done), "the reload answered before the call in flight ended");
    pid_t now = h_worker_pid(c, "test/slow");
    cr_assert(now > 0 && now != old, "a new worker serves (old %d, now %d)", (int)old, (int)now);
    return old;
}

static void still_loaded(void)
{
    char state[64];
    h_plugin_state(c, "test/slow", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "loaded");
}

/* A reload starts the new worker beside the old, answers once it serves, and
 * lets the old one finish the call it has, then stop. */
Test(lifecycle, reload_switches_at_once_and_the_old_worker_finishes_its_long_call)
{
    struct long_call lc;
    reload_beside(&lc, 3000);
    bay_error err;
    cr_assert_eq(h_call_str(lc.host, "slow.echo", "again", 0, NULL, 0, &err), 0, "%s", err.message);
    cr_assert(!atomic_load(&lc.done), "the new worker answered while the old one still ran the long call");
    cr_assert_eq(h_fast_channels(c) > 0, fast_path(), "the host took a new channel after the reload");
    finish_long_call(&lc);
    cr_assert_eq(lc.rc, 0, "the call in flight on the old worker ended with %s: %s", bay_errname(lc.rc),
                 lc.err.message);
    cr_assert_eq(lc.value, lc.ms);
    cr_assert(h_wait_log(&h, "its previous worker ended: unloaded"), "the old worker stopped once its call was done");
    cr_assert(!h_log_contains(&h, "killing worker"), "the reload killed a worker (log %s)", h.log);
    still_loaded();
}

/* A second reload while the first one's old worker still finishes its call
 * waits for that worker to stop, then reloads again. */
Test(lifecycle, a_second_reload_waits_for_the_old_worker_of_the_first)
{
    struct long_call lc;
    pid_t first = reload_beside(&lc, 3000);
    pid_t second = h_worker_pid(c, "test/slow");
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "test/slow", &err), 0, "%s", err.message);
    long long ended = h_now_ms();
    pid_t third = h_worker_pid(c, "test/slow");
    cr_assert(second != third && third != first, "workers %d, %d, %d", (int)first, (int)second, (int)third);
    drained_in_time(&lc, "the second reload", ended);
    cr_assert(h_log_contains(&h, "reload queued: its previous worker is still finishing its calls"));
    still_loaded();
}

Test(lifecycle, disable_drains_a_long_call)
{
    struct long_call lc;
    start_long_call(&lc, 3000);
    bay_error err;
    cr_assert_eq(h_command(c, "disable", "test/slow", &err), 0, "%s", err.message);
    drained_in_time(&lc, "disable", h_now_ms());
    char state[64];
    h_plugin_state(c, "test/slow", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "disabled");
}

Test(lifecycle, a_call_that_outlasts_the_drain_timeout_fails_naming_it)
{
    bay_close(c);
    h_stop(&h);
    const char *const extra[] = {"--drain-timeout-ms", "500", NULL};
    h_start(&h, extra);
    c = h_connect(&h, "test-lifecycle");
    cr_assert(h_wait_state(c, "test/slow", "loaded", H_WAIT_MS));
    struct long_call lc;
    start_long_call(&lc, 20000);
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "test/slow", &err), 0, "%s", err.message);
    finish_long_call(&lc);
    cr_assert_eq(lc.rc, BAY_ECRASHED, "got %s: %s", bay_errname(lc.rc), lc.err.message);
    cr_assert_str_eq(lc.err.plugin, "test/slow");
    cr_assert(strstr(lc.err.message, "test/slow failed during slow.sleep: did not finish unloading in time: calls in "
                                     "flight outlasted the drain timeout of 500 ms (--drain-timeout-ms)"),
              "message: %s", lc.err.message);
    cr_assert_lt(h_now_ms() - lc.started_ms, 10000, "the drain timeout bounded the wait");
    cr_assert(h_wait_log(&h, "did not finish unloading in time"));
    char state[64];
    h_plugin_state(c, "test/slow", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "stopped");
}

struct traffic {
    harness *h;
    atomic_bool stop;
    atomic_int ok, unavailable, other;
    int last_other;
    char other_msg[512];
};

static void *keep_calling(void *arg)
{
    struct traffic *t = arg;
    bay_conn *caller = h_connect(t->h, "traffic");
    bay_value *args = int_args(3);
    while (!atomic_load(&t->stop)) {
        bay_value *res = NULL;
        bay_error err;
        int rc = bay_call(caller, "slow.sleep", args, NULL, &res, &err);
        if (rc == 0 && bay_value_int(res) == 3)
            atomic_fetch_add(&t->ok, 1);
        else if (rc == BAY_ENOPROVIDER)
            atomic_fetch_add(&t->unavailable, 1);
        else {
            atomic_fetch_add(&t->other, 1);
            t->last_other = rc;
            snprintf(t->other_msg, sizeof t->other_msg, "%s", err.message);
        }
        bay_value_free(res);
    }
    bay_value_free(args);
    bay_close(caller);
    return NULL;
}

static bool ok_grew(void *arg)
{
    struct traffic *t = ((void **)arg)[0];
    int *since = ((void **)arg)[1];
    return atomic_load(&t->ok) > *since + 5;
}

Test(lifecycle, load_unload_reload_while_another_host_keeps_calling)
{
    struct traffic t = {.h = &h};
    pthread_t th;
    pthread_create(&th, NULL, keep_calling, &t);
    bay_error err;
    for (int round = 0; round < 3; round++) {
        int since = atomic_load(&t.ok);
        void *arg[2] = {&t, &since};
        cr_assert(h_wait_until(ok_grew, arg, H_WAIT_MS), "calls did not succeed before round %d", round);
        cr_assert_eq(h_command(c, "reload", "test/slow", &err), 0, "reload: %s", err.message);
        cr_assert_eq(h_command(c, "unload", "test/slow", &err), 0, "unload: %s", err.message);
        cr_assert_eq(h_command(c, "load", "test/slow", &err), 0, "load: %s", err.message);
    }
    int since = atomic_load(&t.ok);
    void *arg[2] = {&t, &since};
    cr_assert(h_wait_until(ok_grew, arg, H_WAIT_MS));
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&t.other), 0, "%d calls failed otherwise, last %s: %s", atomic_load(&t.other),
                 bay_errname(t.last_other), t.other_msg);
    cr_assert_gt(atomic_load(&t.unavailable), 0, "some calls met the unloaded plugin");
}

Test(lifecycle, state_survives_a_broker_restart)
{
    bay_error err;
    cr_assert_eq(h_command(c, "disable", "example/audit", &err), 0, "%s", err.message);
    bay_close(c);
    h_stop(&h);
    h_start(&h, NULL);
    c = h_connect(&h, "test-lifecycle");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    char state[64];
    h_plugin_state(c, "example/audit", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "disabled");
    cr_assert_eq(h_command(c, "load", "example/audit", &err), BAY_ESTATE, "a disabled plugin is not loaded");
    cr_assert(strstr(err.message, "plugbay enable example/audit"), "message: %s", err.message);
    cr_assert_eq(h_command(c, "enable", "example/audit", &err), 0, "%s", err.message);
    h_plugin_state(c, "example/audit", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "loaded");
}

/* docs/cli.md: enable loads the plugin — also one that is enabled already but was unloaded. */
Test(lifecycle, enable_loads_a_stopped_plugin)
{
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "example/audit", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/audit", "stopped", H_WAIT_MS));
    cr_assert_eq(h_command(c, "enable", "example/audit", &err), 0, "%s", err.message);
    char state[64];
    h_plugin_state(c, "example/audit", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "loaded");
}

Test(lifecycle, uninstall_removes_the_data_folder)
{
    char data[600];
    snprintf(data, sizeof data, "%s/data/test/timer", h.state);
    struct stat st;
    cr_assert_eq(stat(data, &st), 0, "the data folder %s exists while installed", data);
    bay_error err;
    cr_assert_eq(h_command(c, "uninstall", "test/timer", &err), 0, "%s", err.message);
    cr_assert_neq(stat(data, &st), 0, "the data folder is gone");
    char state[64];
    h_plugin_state(c, "test/timer", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "available");
    cr_assert_eq(h_command(c, "uninstall", "test/timer", &err), BAY_ESTATE);
    cr_assert_eq(h_command(c, "install", "no/such", &err), BAY_ENOENT);
    cr_assert(strstr(err.message, "no/such"), "message: %s", err.message);
}

static bool ticked_four_times(void *arg)
{
    bay_value *res = NULL;
    int rc = bay_call(c, "timer.count", NULL, NULL, &res, NULL);
    bool done = rc == 0 && bay_value_int(res) >= 4;
    bay_value_free(res);
    return done;
}

Test(lifecycle, timer_fires_at_its_interval_and_never_overlaps_itself)
{
    cr_assert(h_wait_until(ticked_four_times, NULL, H_WAIT_MS));
    char path[600], word[16];
    snprintf(path, sizeof path, "%s/data/test/timer/ticks.log", h.state);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL, "%s", path);
    long long ns, last_end = 0, last_start = 0;
    int starts = 0;
    bool in_tick = false;
    while (fscanf(f, "%15s %lld", word, &ns) == 2) {
        if (strcmp(word, "start") == 0) {
            cr_assert(!in_tick, "a tick started while the previous one ran");
            cr_assert_geq(ns, last_end);
            if (starts > 0)
                cr_assert_geq(ns - last_start, 50LL * 1000000, "ticks are at least one interval apart");
            last_start = ns;
            starts++;
            in_tick = true;
        } else {
            in_tick = false;
            last_end = ns;
        }
    }
    fclose(f);
    cr_assert_geq(starts, 4);
}

struct notices {
    pthread_mutex_t lock;
    char seen[4096];
};

static void on_notice(const bay_notice *n, void *user)
{
    struct notices *ns = user;
    pthread_mutex_lock(&ns->lock);
    size_t len = strlen(ns->seen);
    snprintf(ns->seen + len, sizeof ns->seen - len, "%s %s %s %s|", n->what, n->name, n->plugin, n->state);
    pthread_mutex_unlock(&ns->lock);
}

static struct notices notices = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool saw(void *needle)
{
    pthread_mutex_lock(&notices.lock);
    bool found = strstr(notices.seen, needle) != NULL;
    pthread_mutex_unlock(&notices.lock);
    return found;
}

Test(lifecycle, subscribers_hear_registry_changes)
{
    bay_conn *watcher = h_connect(&h, "watcher");
    bay_error err;
    cr_assert_eq(bay_subscribe(watcher, on_notice, &notices, &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "unload", "example/audit", &err), 0, "%s", err.message);
    cr_assert(h_wait_until(saw, "provider-removed math.add example/audit", H_WAIT_MS), "seen: %s", notices.seen);
    cr_assert(h_wait_until(saw, "plugin-state  example/audit stopped", H_WAIT_MS), "seen: %s", notices.seen);
    cr_assert_eq(h_command(c, "load", "example/audit", &err), 0, "%s", err.message);
    cr_assert(h_wait_until(saw, "provider-added math.add example/audit", H_WAIT_MS), "seen: %s", notices.seen);
    cr_assert_eq(bay_declare(c, "app.saved", BAY_EVENT, &err), 0, "%s", err.message);
    cr_assert(h_wait_until(saw, "declared app.saved host:test-lifecycle", H_WAIT_MS), "seen: %s", notices.seen);
    bay_close(watcher);
}

Test(lifecycle, a_host_declaring_another_kind_gets_a_clear_error)
{
    bay_error err;
    int rc = bay_declare(c, "greet", BAY_EVENT, &err);
    cr_assert_eq(rc, BAY_EKIND, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "greet") && strstr(err.message, "handle"), "message: %s", err.message);
    cr_assert_eq(bay_declare(c, "greet", BAY_HANDLE, &err), 0, "the same kind again is fine: %s", err.message);
}
