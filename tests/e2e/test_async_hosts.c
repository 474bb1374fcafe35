/* tests/e2e/test_async_hosts.c — host providers that answer later (bay_provide_async): replies from another
 * thread, several calls unanswered at once, errors, cancel and deadlines seen through the reply, a reply that
 * outlives its connection, bad arguments; a plugin calling such a provider. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c, *prov;

/* The replies the handler was given, with a copy of their arguments, until a test answers them. */
#define HELD_MAX 16
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bay_reply *held[HELD_MAX];
static bay_value *held_args[HELD_MAX];
static int nheld;

/* hold keeps the call's reply for the test to answer from its own thread. */
static void hold(const bay_value *args, bay_reply *reply, void *user)
{
    pthread_mutex_lock(&mu);
    if (nheld < HELD_MAX) {
        held_args[nheld] = bay_value_copy(args);
        held[nheld++] = reply;
        reply = NULL;
    }
    pthread_mutex_unlock(&mu);
    if (reply)
        bay_reply_error(reply, BAY_EBUSY, "the test holds %d replies already", HELD_MAX);
}

static bool holds(void *n)
{
    pthread_mutex_lock(&mu);
    bool ok = nheld >= *(int *)n;
    pthread_mutex_unlock(&mu);
    return ok;
}

/* wait_held waits until n replies are held. */
static void wait_held(int n)
{
    cr_assert(h_wait_until(holds, &n, H_WAIT_MS), "the handler got fewer than %d calls", n);
}

/* take returns held reply i (its arguments in *args, which the caller frees). */
static bay_reply *take(int i, bay_value **args)
{
    pthread_mutex_lock(&mu);
    bay_reply *r = held[i];
    *args = held_args[i];
    held[i] = NULL;
    held_args[i] = NULL;
    pthread_mutex_unlock(&mu);
    return r;
}

static void start(void)
{
    const char *ids[] = {"lua/basic", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-async");
    prov = h_connect(&h, "async-prov");
    h_wait_loaded(c, ids);
    bay_error err;
    cr_assert_eq(bay_provide_async(prov, "host.later", BAY_HANDLE, NULL, hold, NULL, &err), 0, "%s", err.message);
}

static void stop(void)
{
    for (int i = 0; i < nheld; i++) {
        bay_value *args;
        bay_reply *r = take(i, &args);
        if (r)
            bay_reply_value(r, NULL);
        bay_value_free(args);
    }
    nheld = 0;
    bay_close(prov);
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(async_hosts, .init = start, .fini = stop, .timeout = 120);

static bay_pending *call_later(int n, int timeout_ms)
{
    bay_value *args = bay_array();
    bay_array_push(args, bay_int(n));
    bay_call_opts opts = {.timeout_ms = timeout_ms};
    bay_pending *p = NULL;
    bay_error err;
    cr_assert_eq(bay_call_async(c, "host.later", args, &opts, &p, &err), 0, "%s", err.message);
    bay_value_free(args);
    return p;
}

struct answerer {
    int n;
};

/* answer_all answers every held reply, last first, from a thread of its own, with its argument times 10. */
static void *answer_all(void *arg)
{
    struct answerer *a = arg;
    for (int i = a->n - 1; i >= 0; i--) {
        bay_value *args;
        bay_reply *r = take(i, &args);
        int rc = bay_reply_value(r, bay_int(bay_value_int(bay_array_get(args, 0)) * 10));
        bay_value_free(args);
        if (rc)
            return (void *)1;
    }
    return NULL;
}

Test(async_hosts, calls_overlap_and_replies_come_later_from_another_thread_in_any_order)
{
    enum { N = 4 };
    bay_pending *p[N];
    for (int i = 0; i < N; i++)
        p[i] = call_later(i + 1, 20000);
    wait_held(N); /* every call reached the handler while none was answered: the dispatch thread went on */
    for (int i = 0; i < N; i++) {
        bay_value *res = NULL;
        cr_assert_eq(bay_pending_wait(p[i], 0, &res, NULL), BAY_EPENDING, "call %d answered before its reply", i);
    }
    pthread_t t;
    struct answerer a = {N};
    pthread_create(&t, NULL, answer_all, &a);
    void *failed;
    pthread_join(t, &failed);
    cr_assert_null(failed, "a reply could not be sent");
    for (int i = 0; i < N; i++) {
        bay_value *res = NULL;
        bay_error err;
        cr_assert_eq(bay_pending_wait(p[i], -1, &res, &err), 0, "%s", err.message);
        cr_assert_eq(bay_value_int(res), (i + 1) * 10, "each caller gets its own reply");
        bay_value_free(res);
        bay_pending_free(p[i]);
    }
}

Test(async_hosts, an_error_reply_reaches_the_caller_with_its_code_and_the_host)
{
    bay_pending *p1 = call_later(1, 20000), *p2 = call_later(2, 20000);
    wait_held(2);
    bay_value *args;
    cr_assert_eq(bay_reply_error(take(0, &args), BAY_EPERM, "no %s for %d", "way", 1), 0);
    bay_value_free(args);
    cr_assert_eq(bay_reply_error(take(1, &args), -5, "not a code"), 0);
    bay_value_free(args);
    bay_error err;
    cr_assert_eq(bay_pending_wait(p1, -1, NULL, &err), BAY_EPERM);
    cr_assert_str_eq(err.message, "no way for 1");
    cr_assert_str_eq(err.plugin, "host:async-prov");
    cr_assert_eq(bay_pending_wait(p2, -1, NULL, &err), BAY_EPLUGIN, "a code that is none is BAY_EPLUGIN");
    bay_pending_free(p1);
    bay_pending_free(p2);
}

struct stopped {
    bay_reply *r;
    int code;
};

static bool reply_stopped(void *arg)
{
    struct stopped *s = arg;
    return bay_reply_cancelled(s->r) == s->code;
}

Test(async_hosts, cancel_and_a_deadline_are_seen_through_the_reply_and_a_late_answer_is_dropped)
{
    bay_pending *p = call_later(1, 20000);
    wait_held(1);
    cr_assert_eq(bay_reply_cancelled(held[0]), 0, "the caller still waits");
    cr_assert_eq(bay_pending_cancel(p), 0);
    struct stopped s = {held[0], BAY_ECANCELED};
    cr_assert(h_wait_until(reply_stopped, &s, H_WAIT_MS), "the reply never saw the cancel: %d",
              bay_reply_cancelled(held[0]));
    bay_error err;
    cr_assert_eq(bay_pending_wait(p, -1, NULL, &err), BAY_ECANCELED);
    bay_pending_free(p);
    bay_value *args;
    cr_assert_eq(bay_reply_value(take(0, &args), bay_str("late")), 0, "answering late is allowed, and dropped");
    bay_value_free(args);

    p = call_later(2, 300);
    wait_held(2);
    struct stopped d = {held[1], BAY_ETIMEDOUT};
    cr_assert(h_wait_until(reply_stopped, &d, H_WAIT_MS), "the reply never saw its deadline: %d",
              bay_reply_cancelled(held[1]));
    cr_assert_eq(bay_pending_wait(p, -1, NULL, &err), BAY_ETIMEDOUT);
    cr_assert(strstr(err.message, "host:async-prov"), "%s", err.message);
    bay_pending_free(p);
    cr_assert_eq(bay_reply_value(take(1, &args), NULL), 0);
    bay_value_free(args);

    /* the connection goes on serving */
    p = call_later(3, 20000);
    wait_held(3);
    cr_assert_eq(bay_reply_value(take(2, &args), bay_int(33)), 0);
    bay_value_free(args);
    bay_value *res = NULL;
    cr_assert_eq(bay_pending_wait(p, -1, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(res), 33);
    bay_value_free(res);
    bay_pending_free(p);
}

Test(async_hosts, a_reply_outliving_its_connection_is_cancelled_and_answers_econn)
{
    bay_pending *p = call_later(1, 20000);
    wait_held(1);
    bay_close(prov); /* does not wait for the unanswered reply */
    prov = NULL;
    cr_assert_eq(bay_reply_cancelled(held[0]), BAY_ECANCELED);
    bay_error err;
    cr_assert_eq(bay_pending_wait(p, -1, NULL, &err), BAY_ECONN, "%s", err.message);
    bay_pending_free(p);
    bay_value *args;
    cr_assert_eq(bay_reply_value(take(0, &args), bay_str("too late")), BAY_ECONN);
    bay_value_free(args); /* the connection's memory went with its last reply: ASan says if not */
}

Test(async_hosts, a_plugin_calls_an_async_provider_through_the_broker)
{
    bay_value *res = NULL;
    bay_error err;
    bay_value *args = bay_array(), *inner = bay_array();
    bay_array_push(inner, bay_int(7));
    bay_array_push(args, bay_str("host.later"));
    bay_array_push(args, inner);
    bay_pending *p = NULL;
    cr_assert_eq(bay_call_async(c, "lua.via", args, NULL, &p, &err), 0, "%s", err.message);
    bay_value_free(args);
    wait_held(1);
    cr_assert_eq(bay_reply_value(take(0, &args), bay_int(70)), 0);
    bay_value_free(args);
    cr_assert_eq(bay_pending_wait(p, -1, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(res), 70);
    bay_value_free(res);
    bay_pending_free(p);
}

Test(async_hosts, bad_arguments_are_refused)
{
    bay_error err;
    cr_assert_eq(bay_provide_async(prov, "host.none", BAY_HANDLE, NULL, NULL, NULL, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "bay_provide_async"), "%s", err.message);
    cr_assert_eq(bay_provide_async(prov, "host.kind", (bay_kind)7, NULL, hold, NULL, &err), BAY_EINVAL);
    cr_assert_eq(bay_provide_async(prov, "host.later", BAY_HANDLE, NULL, hold, NULL, &err), BAY_EEXIST);
    cr_assert_eq(bay_reply_value(NULL, bay_str("freed")), BAY_EINVAL);
    cr_assert_eq(bay_reply_error(NULL, BAY_EPERM, "x"), BAY_EINVAL);
    cr_assert_eq(bay_reply_cancelled(NULL), BAY_EINVAL);
}
