/* tests/e2e/test_manage.c — a plugin's timers at run time (set in on_load, set, moved, removed; bad ones refused)
 * and plugins managed from a plugin (plugins.manage:PATTERN; unloading or reloading itself in a call). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"test/manager", "test/slow", "example/hello", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-manage");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(manage, .init = start, .fini = stop, .timeout = 120);

/* ticks returns how often tick_a ("a") or tick_b ("b") ran. */
static int64_t ticks(const char *which)
{
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, "mgr.ticks", "[]", 5000, &res, &e), 0, "%s", e.message);
    int64_t n = bay_value_int(bay_map_get(res, which));
    bay_value_free(res);
    return n;
}

struct above {
    const char *which;
    int64_t n;
};

static bool ticked_past(void *arg)
{
    const struct above *a = arg;
    return ticks(a->which) > a->n;
}

/* call_json calls name with args_json; its code, err its message, *out its result as JSON (static) when wanted. */
static int call_json(const char *name, const char *args_json, const char **out, bay_error *e)
{
    static char text[4096];
    bay_value *res = NULL;
    int rc = h_call_json(c, name, args_json, 5000, &res, e);
    char *json = NULL;
    if (rc == 0)
        bay_value_to_json(res, &json);
    snprintf(text, sizeof text, "%s", json ? json : "");
    free(json);
    bay_value_free(res);
    if (out)
        *out = text;
    return rc;
}

Test(manage, a_timer_set_in_on_load_ticks_and_timers_are_set_moved_and_removed_at_run_time)
{
    struct above a = {"a", 2};
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS), "the timer on_load set never ticked");
    bay_error e;
    const char *out;
    cr_assert_eq(call_json("mgr.timer_set", "[\"fast\", 10, \"tick_b\"]", NULL, &e), 0, "%s", e.message);
    struct above b = {"b", 3};
    cr_assert(h_wait_until(ticked_past, &b, H_WAIT_MS), "the new timer never ticked");
    cr_assert_eq(call_json("mgr.timers", "[]", &out, &e), 0, "%s", e.message);
    cr_assert(strstr(out, "\"name\":\"boot\"") && strstr(out, "\"name\":\"fast\"") && strstr(out, "\"interval_ms\":10"),
              "%s", out);
    /* Moved to a day: it does not tick again while "boot" ticks on. */
    cr_assert_eq(call_json("mgr.timer_set", "[\"fast\", 86400000, \"tick_b\"]", NULL, &e), 0, "%s", e.message);
    int64_t was = ticks("b");
    a.n = ticks("a") + 5;
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS));
    cr_assert_leq(ticks("b"), was + 1, "a timer moved to a day ticked on"); /* one tick may have been on its way */
    /* Moved back to 10 ms and then removed: it stops. */
    cr_assert_eq(call_json("mgr.timer_set", "[\"fast\", 10, \"tick_b\"]", NULL, &e), 0, "%s", e.message);
    b.n = ticks("b") + 2;
    cr_assert(h_wait_until(ticked_past, &b, H_WAIT_MS));
    cr_assert_eq(call_json("mgr.timer_remove", "[\"fast\"]", NULL, &e), 0, "%s", e.message);
    was = ticks("b");
    a.n = ticks("a") + 5;
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS));
    cr_assert_leq(ticks("b"), was + 1, "a removed timer ticked on");
    cr_assert_eq(call_json("mgr.timers", "[]", &out, &e), 0, "%s", e.message);
    cr_assert(!strstr(out, "\"fast\""), "%s", out);
}

Test(manage, bad_timers_are_refused_saying_why_and_the_others_tick_on)
{
    static const struct {
        const char *args, *says;
        int code;
    } bad[] = {
        {"[\"t\", 0, \"tick_b\"]", "timer t: the interval is from 1 to 86400000 ms (one day), got 0", BAY_EINVAL},
        {"[\"t\", 86400001, \"tick_b\"]", "the interval is from 1 to 86400000 ms (one day), got 86400001", BAY_EINVAL},
        {"[\"t\", 10, \"no_such\"]", "timer t: the plugin has no function \"no_such\"", BAY_EINVAL},
        {"[\"bad name\", 10, \"tick_b\"]", "a timer's name is 1 to 128 of A-Z a-z 0-9 _ . : -", BAY_EINVAL},
    };
    bay_error e;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(call_json("mgr.timer_set", bad[i].args, NULL, &e), bad[i].code, "%s", bad[i].args);
        cr_assert(strstr(e.message, bad[i].says), "%s: %s", bad[i].args, e.message);
    }
    cr_assert_eq(call_json("mgr.timer_remove", "[\"never\"]", NULL, &e), BAY_ENOENT);
    cr_assert(strstr(e.message, "test/manager has no timer \"never\""), "%s", e.message);
    /* 64 at most, "boot" included. */
    char args[100];
    for (int i = 1; i < 64; i++) {
        snprintf(args, sizeof args, "[\"t%d\", 86400000, \"tick_b\"]", i);
        cr_assert_eq(call_json("mgr.timer_set", args, NULL, &e), 0, "%s: %s", args, e.message);
    }
    cr_assert_eq(call_json("mgr.timer_set", "[\"one-more\", 10, \"tick_b\"]", NULL, &e), BAY_EBUSY);
    cr_assert(strstr(e.message, "test/manager has 64 timers, the most a plugin may have: remove one first"), "%s",
              e.message);
    cr_assert_eq(call_json("mgr.timer_set", "[\"t1\", 20, \"tick_b\"]", NULL, &e), 0, "moving one is no new one: %s",
                 e.message);
    struct above a = {"a", ticks("a") + 3};
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS), "boot stopped ticking");
}

/* state_of returns the state of plugin id. */
static const char *state_of(const char *id)
{
    static char state[32];
    h_plugin_state(c, id, state, sizeof state, NULL, 0);
    return state;
}

Test(manage, a_plugin_manages_the_plugins_its_pattern_covers_and_no_other)
{
    bay_error e;
    const char *out;
    cr_assert_eq(call_json("mgr.list", "[]", &out, &e), 0, "%s", e.message);
    cr_assert(strstr(out, "\"id\":\"test/manager\"") && strstr(out, "\"id\":\"test/slow\"") &&
                  !strstr(out, "example/hello"),
              "it lists itself and what plugins.manage:test/* covers: %s", out);
    cr_assert_eq(call_json("mgr.manage", "[\"unload\", \"test/slow\"]", &out, &e), 0, "%s", e.message);
    cr_assert(h_wait_state(c, "test/slow", "stopped", H_WAIT_MS), "test/slow is %s", state_of("test/slow"));
    cr_assert_eq(call_json("mgr.manage", "[\"load\", \"test/slow\"]", NULL, &e), 0, "%s", e.message);
    cr_assert(h_wait_state(c, "test/slow", "loaded", H_WAIT_MS), "test/slow is %s", state_of("test/slow"));
    pid_t slow = h_worker_pid(c, "test/slow");
    cr_assert_eq(call_json("mgr.manage", "[\"reload\", \"test/slow\"]", NULL, &e), 0, "%s", e.message);
    cr_assert(h_wait_log(&h, "[test/slow] reloaded: worker"));
    cr_assert_neq(h_worker_pid(c, "test/slow"), slow);
    /* Outside its pattern, unknown, or not a command. */
    cr_assert_eq(call_json("mgr.manage", "[\"unload\", \"example/hello\"]", NULL, &e), BAY_EPERM);
    cr_assert(strstr(e.message, "test/manager may not unload example/hello: it was not granted "
                                "plugins.manage:example/hello (or plugins.manage)"),
              "%s", e.message);
    cr_assert_eq(call_json("mgr.manage", "[\"load\", \"test/nosuch\"]", NULL, &e), BAY_ENOENT);
    cr_assert(strstr(e.message, "no plugin \"test/nosuch\""), "%s", e.message);
    cr_assert_eq(call_json("mgr.manage", "[\"delete\", \"test/slow\"]", NULL, &e), BAY_EINVAL);
    cr_assert(strstr(e.message, "what is \"load\", \"unload\" or \"reload\""), "%s", e.message);
    cr_assert_str_eq(state_of("example/hello"), "loaded");
    cr_assert(h_wait_log(&h, "[audit] plugin:test/manager: plugins.unload example/hello: BAY_EPERM"));
}

Test(manage, a_plugin_reloads_and_unloads_itself_in_the_middle_of_a_call)
{
    bay_error e;
    const char *out;
    pid_t before = h_worker_pid(c, "test/manager");
    cr_assert_eq(call_json("mgr.manage", "[\"reload\", \"test/manager\"]", &out, &e), 0, "%s", e.message);
    cr_assert(strstr(out, "\"id\":\"test/manager\""), "%s", out);
    cr_assert(h_wait_log(&h, "[test/manager] reloaded: worker"));
    cr_assert_neq(h_worker_pid(c, "test/manager"), before);
    struct above a = {"a", ticks("a") + 2};
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS), "the new worker's on_load timer never ticked");
    cr_assert_eq(call_json("mgr.manage", "[\"unload\", \"test/manager\"]", &out, &e), 0, "%s", e.message);
    cr_assert(strstr(out, "\"state\":\"unloading\""), "the call answered before the drain: %s", out);
    cr_assert(h_wait_state(c, "test/manager", "stopped", H_WAIT_MS), "test/manager is %s", state_of("test/manager"));
    cr_assert_str_eq(state_of("test/slow"), "loaded");
}
