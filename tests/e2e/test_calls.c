/* tests/e2e/test_calls.c — handles, events, contexts, argument errors and calls between hosts and plugins. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"example/hello", "example/audit", "test/caller", "test/ctx", "test/ctxall", "test/slow",
                         NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-calls");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(calls, .init = start, .fini = stop, .timeout = 120);

Test(calls, handle_reaches_only_the_first_provider_in_load_order)
{
    char out[256];
    bay_error err;
    /* example/hello (order 0) and example/audit (order 10) both provide greet. */
    cr_assert_eq(h_call_str(c, "greet", "world", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, world!");
}

Test(calls, a_caller_that_wants_no_result_gets_the_outcome_alone)
{
    bay_value *args = bay_array();
    bay_array_push(args, bay_str("world"));
    bay_error err;
    for (int i = 0; i < 3; i++) /* the first call opens the route; the next ones take it */
        cr_assert_eq(bay_call(c, "greet", args, NULL, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, NULL, &err), 0, "%s", err.message);
    bay_value_free(args);
    args = bay_array();
    bay_array_push(args, bay_int(5)); /* greet takes a string */
    int rc = bay_call(c, "greet", args, NULL, NULL, &err);
    cr_assert_eq(rc, BAY_ETYPE, "an error still reaches it: got %s", bay_errname(rc));
    bay_value_free(args);
}

Test(calls, event_reaches_every_provider_in_load_order)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_type(res), BAY_ARRAY);
    cr_assert_eq(bay_value_len(res), 2);
    const bay_value *first = bay_array_get(res, 0), *second = bay_array_get(res, 1);
    cr_assert_str_eq(bay_value_str(bay_map_get(first, "plugin"), NULL), "example/hello");
    cr_assert_str_eq(bay_value_str(bay_map_get(second, "plugin"), NULL), "example/audit");
    /* Delivered one after the other: the first provider ran before the second. */
    int64_t t1 = bay_value_int(bay_map_get(bay_map_get(first, "value"), "at_ns"));
    int64_t t2 = bay_value_int(bay_map_get(bay_map_get(second, "value"), "at_ns"));
    cr_assert(t1 > 0 && t1 < t2, "at_ns %lld then %lld", (long long)t1, (long long)t2);
    bay_value_free(res);
}

Test(calls, context_filters_providers)
{
    char out[256];
    bay_error err;
    bay_call_opts fr = {.context = "fr"}, de = {.context = "de"};
    bay_value *res = NULL;
    cr_assert_eq(bay_call(c, "ctx.who", NULL, &fr, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "fr-provider");
    bay_value_free(res);
    cr_assert_eq(bay_call(c, "ctx.who", NULL, &de, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "any-provider");
    bay_value_free(res);
    cr_assert_eq(h_call_str(c, "ctx.who", NULL, 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "fr-provider", "without a context the first provider in load order serves");
}

Test(calls, wrong_argument_type_is_a_clear_error_and_the_plugin_stays_usable)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("two"));
    bay_array_push(args, bay_int(40));
    bay_error err;
    int rc = bay_call(c, "math.add", args, NULL, &res, &err);
    cr_assert_eq(rc, BAY_ETYPE, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "example/audit");
    cr_assert(strstr(err.message, "argument 1") && strstr(err.message, "int") && strstr(err.message, "str"),
              "message: %s", err.message);
    bay_value_free(args);
    args = bay_array();
    bay_array_push(args, bay_int(2));
    bay_array_push(args, bay_int(40));
    cr_assert_eq(bay_call(c, "math.add", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(res), 42);
    bay_value_free(res);
    bay_value_free(args);
}

Test(calls, unknown_extension_point_is_named)
{
    bay_error err;
    int rc = h_call_str(c, "no.such.thing", NULL, 5000, NULL, 0, &err);
    cr_assert_eq(rc, BAY_ENOENT);
    cr_assert(strstr(err.message, "no.such.thing"), "message: %s", err.message);
}

static int echo_handler(const bay_value *args, bay_value **result, bay_error *err, void *user)
{
    *result = bay_value_copy(args);
    return 0;
}

Test(calls, plugin_calls_an_extension_point_provided_by_the_host)
{
    bay_error err;
    cr_assert_eq(bay_provide(c, "host.echo", BAY_HANDLE, NULL, echo_handler, NULL, &err), 0, "%s", err.message);
    bay_value *args = bay_array(), *inner = bay_array(), *res = NULL;
    bay_array_push(inner, bay_str("ping"));
    bay_array_push(inner, bay_int(7));
    bay_array_push(args, bay_str("host.echo"));
    bay_array_push(args, inner);
    cr_assert_eq(bay_call(c, "caller.via", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 2);
    cr_assert_str_eq(bay_value_str(bay_array_get(res, 0), NULL), "ping");
    cr_assert_eq(bay_value_int(bay_array_get(res, 1)), 7);
    bay_value_free(res);
    bay_value_free(args);
}

Test(calls, plugin_calls_an_extension_point_provided_by_another_plugin)
{
    bay_value *args = bay_array(), *inner = bay_array(), *res = NULL;
    bay_array_push(inner, bay_str("plugin"));
    bay_array_push(args, bay_str("greet"));
    bay_array_push(args, inner);
    bay_error err;
    cr_assert_eq(bay_call(c, "caller.via", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "Hello, plugin!");
    bay_value_free(res);
    bay_value_free(args);
}

Test(calls, deadline_passes_with_a_clear_error_and_the_plugin_answers_again)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int(5000));
    bay_call_opts o = {.timeout_ms = 200};
    bay_error err;
    long long t0 = h_now_ms();
    int rc = bay_call(c, "slow.sleep", args, &o, &res, &err);
    long long took = h_now_ms() - t0;
    cr_assert_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "test/slow");
    cr_assert(took < 1200, "the caller waited %lld ms for a 200 ms deadline", took);
    bay_value_free(args);
    args = bay_array();
    bay_array_push(args, bay_int(1));
    cr_assert_eq(bay_call(c, "slow.sleep", args, NULL, &res, &err), 0, "%s", err.message);
    bay_value_free(res);
    bay_value_free(args);
}

Test(calls, async_call_can_be_cancelled_and_the_plugin_sees_it)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int(10000));
    bay_pending *p;
    bay_error err;
    cr_assert_eq(bay_call_async(c, "slow.sleep", args, NULL, &p, &err), 0, "%s", err.message);
    cr_assert_eq(bay_pending_wait(p, 50, &res, &err), BAY_EPENDING, "still running after 50 ms");
    long long t0 = h_now_ms();
    cr_assert_eq(bay_pending_cancel(p), 0);
    int rc = bay_pending_wait(p, -1, &res, &err);
    cr_assert_eq(rc, BAY_ECANCELED, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(h_now_ms() - t0 < 2000);
    bay_pending_free(p);
    bay_value_free(args);
    /* The plugin noticed the cancel and returned, so it serves the next call at once. */
    args = bay_array();
    bay_array_push(args, bay_int(1));
    bay_call_opts o = {.timeout_ms = 1000};
    cr_assert_eq(bay_call(c, "slow.sleep", args, &o, &res, &err), 0, "%s", err.message);
    bay_value_free(res);
    bay_value_free(args);
}

Test(calls, binary_and_nested_values_cross_unchanged)
{
    bay_value *args = bay_array(), *m = bay_map(), *res = NULL;
    bay_map_set(m, "bin", bay_bin("a\0b\xff", 4));
    bay_map_set(m, "big", bay_int(INT64_MIN));
    bay_map_set(m, "f", bay_float(-0.5));
    bay_array_push(args, m);
    bay_array_push(args, bay_strn("x\0y", 3));
    bay_error err;
    cr_assert_eq(bay_call(c, "slow.echo", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert(bay_value_equal(args, res));
    bay_value_free(args);
    bay_value_free(res);
}

/* calls_again tells whether host conn's short call now goes through (not BAY_EBUSY). */
static bool calls_again(void *conn)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int(1));
    bay_call_opts o = {.timeout_ms = 60000};
    int rc = bay_call(conn, "slow.sleep", args, &o, &res, NULL);
    bay_value_free(args);
    bay_value_free(res);
    cr_assert(rc == 0 || rc == BAY_EBUSY, "got %s", bay_errname(rc));
    return rc == 0;
}

/* A host with the most calls in flight plugbayd allows one connection (1024) is refused the next with a clear
 * error, while another host is served; once its calls are cancelled it calls again. On the fast path a
 * handle's calls do not go through plugbayd, so the host goes through it (events always do): an async call. */
Test(calls, a_connection_with_too_many_calls_in_flight_is_refused_more_and_others_are_served)
{
    enum { MAX = 1024 };
    bay_conn *flood = h_connect(&h, "flood");
    static bay_pending *p[MAX];
    bay_value *args = bay_array();
    bay_array_push(args, bay_int(60000));
    bay_call_opts o = {.timeout_ms = 90000};
    bay_error err;
    for (int i = 0; i < MAX; i++)
        cr_assert_eq(bay_call_async(flood, "slow.sleep", args, &o, &p[i], &err), 0, "call %d: %s", i, err.message);
    bay_value *res = NULL;
    int rc = BAY_EPENDING;
    bay_pending *more;
    cr_assert_eq(bay_call_async(flood, "slow.sleep", args, &o, &more, &err), 0, "%s", err.message);
    rc = bay_pending_wait(more, 20000, &res, &err);
    cr_expect_eq(rc, BAY_EBUSY, "got %s: %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "host:flood has 1024 calls and events in flight, the most one connection may"),
              "%s", err.message);
    bay_pending_free(more);

    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "bystander", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, bystander!");

    for (int i = 0; i < MAX; i++)
        bay_pending_free(p[i]); /* each cancels its call; plugbayd counts it until its worker let go of it */
    bay_value_free(args);
    cr_assert(h_wait_until(calls_again, flood, H_WAIT_MS), "host:flood was still refused after its calls were cancelled");
    bay_close(flood);
}

/* sleep_async starts slow.sleep(ms) on conn with a deadline of timeout_ms. */
static bay_pending *sleep_async(bay_conn *conn, int ms, int timeout_ms)
{
    bay_value *args = bay_array();
    bay_array_push(args, bay_int(ms));
    bay_call_opts o = {.timeout_ms = timeout_ms};
    bay_pending *p;
    bay_error err;
    cr_assert_eq(bay_call_async(conn, "slow.sleep", args, &o, &p, &err), 0, "%s", err.message);
    bay_value_free(args);
    return p;
}

/* take_sleep takes the answer of slow.sleep(ms) call p, waiting up to wait_ms (-1: as long as it takes);
 * false while it has none. */
static bool take_sleep(bay_pending *p, int ms, int wait_ms)
{
    bay_value *res = NULL;
    bay_error err;
    int rc = bay_pending_wait(p, wait_ms, &res, &err);
    if (rc == BAY_EPENDING)
        return false;
    cr_expect_eq(rc, 0, "%s", err.message);
    cr_expect_eq(bay_value_int(res), ms);
    bay_value_free(res);
    return true;
}

/* slow_has tells whether test/slow has at least *(int *)want calls in flight or waiting their turn in plugbayd. */
static bool slow_has(void *want)
{
    return h_plugin_int(c, "test/slow", "inflight") + h_plugin_int(c, "test/slow", "waiting") >= *(int *)want;
}

/* Fair shares: a host that pours calls into a plugin another host uses gets one call in the plugin's queue
 * at a time; the other host's next call is served after at most one of the flood's, not after all of them.
 * (Async calls go through plugbayd on both paths.) */
Test(calls, a_host_flooding_a_plugin_does_not_stand_in_front_of_another_hosts_calls)
{
    enum { FLOOD = 10, MS = 200 };
    bay_conn *flood = h_connect(&h, "flood");
    bay_pending *first = sleep_async(c, 300, 60000), *p[FLOOD];
    int want = 1;
    cr_assert(h_wait_until(slow_has, &want, H_WAIT_MS), "the first call never reached test/slow");
    for (int i = 0; i < FLOOD; i++)
        p[i] = sleep_async(flood, MS, 60000);
    want = 1 + FLOOD;
    cr_assert(h_wait_until(slow_has, &want, H_WAIT_MS), "the flood never reached plugbayd");
    cr_expect_geq(h_plugin_int(c, "test/slow", "waiting"), FLOOD - 2, "the flood's calls wait their turn in plugbayd");
    bay_pending *next = sleep_async(c, 1, 60000);
    cr_assert(take_sleep(next, 1, -1));
    bool taken[FLOOD];
    int done = 0;
    for (int i = 0; i < FLOOD; i++)
        done += taken[i] = take_sleep(p[i], MS, 0);
    cr_expect_leq(done, 2, "the other host's call waited for %d of the flood's %d calls", done, FLOOD);
    cr_assert(take_sleep(first, 300, -1));
    for (int i = 0; i < FLOOD; i++) { /* every call of the flood is served in the end */
        cr_expect(taken[i] || take_sleep(p[i], MS, -1), "flood call %d", i);
        bay_pending_free(p[i]);
    }
    cr_expect_eq(h_plugin_int(c, "test/slow", "waiting"), 0);
    bay_pending_free(first);
    bay_pending_free(next);
    bay_close(flood);
}

/* A call that waits its turn past its deadline is answered BAY_ETIMEDOUT saying so, and was never run. */
Test(calls, a_call_waiting_its_turn_past_its_deadline_says_so)
{
    bay_conn *flood = h_connect(&h, "flood");
    bay_pending *busy = sleep_async(c, 1500, 60000); /* the other host uses the plugin */
    int want = 1;
    cr_assert(h_wait_until(slow_has, &want, H_WAIT_MS), "the first call never reached test/slow");
    bay_pending *running = sleep_async(flood, 10, 60000); /* the flood's one call in the queue */
    want = 2;
    cr_assert(h_wait_until(slow_has, &want, H_WAIT_MS), "the flood's first call never reached test/slow");
    bay_pending *late = sleep_async(flood, 10, 300); /* waits its turn: the deadline passes first */
    bay_value *res = NULL;
    bay_error err;
    int rc = bay_pending_wait(late, -1, &res, &err);
    cr_assert_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "slow.sleep was not called: the call waited its turn at test/slow past its deadline"),
              "%s", err.message); /* async calls go through plugbayd on both paths */
    cr_assert(take_sleep(running, 10, -1), "the flood's call that had its turn is served");
    cr_assert(take_sleep(busy, 1500, -1));
    bay_pending_free(busy);
    bay_pending_free(running);
    bay_pending_free(late);
    bay_close(flood);
}
