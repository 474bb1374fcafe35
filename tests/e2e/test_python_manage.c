/* tests/e2e/test_python_manage.c — a Python plugin's timers at run time (plugbay.timer: set in on_load, set, moved,
 * removed; bad ones raise plugbay.TimerError) and the plugins it manages (plugbay.plugins, plugbay.ManageError). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"python/manager", "test/slow", "example/hello", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-python-manage");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(python_manage, .init = start, .fini = stop, .timeout = 120);

/* answer calls name with args_json, which must succeed, and returns its result as JSON (static). */
static const char *answer(const char *name, const char *args_json)
{
    static char out[8192];
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, name, args_json, 5000, &res, &e), 0, "%s %s: %s", name, args_json, e.message);
    char *json = NULL;
    bay_value_to_json(res, &json);
    snprintf(out, sizeof out, "%s", json ? json : "?");
    free(json);
    bay_value_free(res);
    return out;
}

/* ticks returns how often tick_a ("a") or tick_b ("b") ran in the plugin's worker. */
static int64_t ticks(const char *which)
{
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, "pymgr.ticks", "[]", 5000, &res, &e), 0, "%s", e.message);
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

/* raised asserts that answer out is the exception class raised with code and a message holding says. */
static void raised(const char *out, const char *class, int code, const char *says)
{
    char want[200];
    snprintf(want, sizeof want, "{\"raised\":\"%s\",\"name\":\"%s\",\"code\":%d,\"plugin\":\"python/manager\",", class,
             bay_errname(code), code);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "want %s..., got %s", want, out);
    cr_assert(strstr(out, says), "want \"%s\" in %s", says, out);
}

Test(python_manage, a_timer_set_in_on_load_ticks_and_timers_are_set_moved_and_removed_at_run_time)
{
    struct above a = {"a", 2};
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS), "the timer on_load set never ticked");
    cr_assert_str_eq(answer("pymgr.timer_set", "[\"fast\", 10, \"tick_b\"]"), "{\"ok\":null}");
    struct above b = {"b", 3};
    cr_assert(h_wait_until(ticked_past, &b, H_WAIT_MS), "the new timer never ticked");
    const char *out = answer("pymgr.timers", "[]");
    cr_assert(strncmp(out, "{\"ok\":[{", 8) == 0, "a list of dicts: %s", out);
    cr_assert(strstr(out, "\"name\":\"boot\",\"interval_ms\":20,\"function\":\"tick_a\"") &&
                  strstr(out, "\"name\":\"fast\",\"interval_ms\":10,\"function\":\"tick_b\"") &&
                  strstr(out, "\"name\":\"daily\",\"interval_ms\":86400000,\"function\":\"tick_b\""),
              "%s", out);
    /* Moved to a day: it does not tick again while "boot" ticks on. */
    cr_assert_str_eq(answer("pymgr.timer_set", "[\"fast\", 86400000, \"tick_b\"]"), "{\"ok\":null}");
    int64_t was = ticks("b");
    a.n = ticks("a") + 5;
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS));
    cr_assert_leq(ticks("b"), was + 1, "a timer moved to a day ticked on"); /* one tick may have been on its way */
    /* Moved back to 10 ms and then removed: it stops. */
    cr_assert_str_eq(answer("pymgr.timer_set", "[\"fast\", 10, \"tick_b\"]"), "{\"ok\":null}");
    b.n = ticks("b") + 2;
    cr_assert(h_wait_until(ticked_past, &b, H_WAIT_MS), "the timer moved back never ticked");
    cr_assert_str_eq(answer("pymgr.timer_remove", "[\"fast\"]"), "{\"ok\":null}");
    was = ticks("b");
    a.n = ticks("a") + 5;
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS));
    cr_assert_leq(ticks("b"), was + 1, "a removed timer ticked on");
    out = answer("pymgr.timers", "[]");
    cr_assert(!strstr(out, "\"fast\"") && strstr(out, "\"boot\""), "%s", out);
}

Test(python_manage, bad_timers_raise_timer_error_with_the_code_and_why_and_the_others_tick_on)
{
    static const struct {
        const char *args, *says;
    } bad[] = {
        {"[\"t\", 0, \"tick_b\"]", "timer t: the interval is from 1 to 86400000 ms (one day), got 0"},
        {"[\"t\", 86400001, \"tick_b\"]", "timer t: the interval is from 1 to 86400000 ms (one day), got 86400001"},
        {"[\"t\", 10, \"no_such\"]", "timer t: the plugin has no function \\\"no_such\\\""},
        {"[\"t\", 10, \"counts\"]", "timer t: the plugin has no function \\\"counts\\\""}, /* a dict, not a function */
        {"[\"bad name\", 10, \"tick_b\"]", "a timer's name is 1 to 128 of A-Z a-z 0-9 _ . : -"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        raised(answer("pymgr.timer_set", bad[i].args), "TimerError", BAY_EINVAL, bad[i].says);
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, "pymgr.timer_set", "[\"t\", \"10\", \"tick_b\"]", 5000, &res, &e), BAY_EPLUGIN,
                 "an interval that is no int raises TypeError, which the plugin does not catch");
    cr_assert(strstr(e.message, "TypeError: 'str' object cannot be interpreted as an integer (at main.py:"), "%s",
              e.message);
    raised(answer("pymgr.timer_remove", "[\"never\"]"), "TimerError", BAY_ENOENT,
           "python/manager has no timer \\\"never\\\"");
    /* 64 at most: "boot" (from on_load) and "daily" (the manifest's) with 62 more. */
    char args[100];
    for (int i = 1; i <= 62; i++) {
        snprintf(args, sizeof args, "[\"t%d\", 86400000, \"tick_b\"]", i);
        cr_assert_str_eq(answer("pymgr.timer_set", args), "{\"ok\":null}", "%s", args);
    }
    raised(answer("pymgr.timer_set", "[\"one-more\", 10, \"tick_b\"]"), "TimerError", BAY_EBUSY,
           "python/manager has 64 timers, the most a plugin may have: remove one first");
    cr_assert_str_eq(answer("pymgr.timer_set", "[\"t1\", 20, \"tick_b\"]"), "{\"ok\":null}",
                     "moving one is no new one");
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

Test(python_manage, a_plugin_manages_the_plugins_its_pattern_covers_and_no_other)
{
    const char *out = answer("pymgr.list", "[]");
    cr_assert(strncmp(out, "{\"ok\":[{", 8) == 0 && strstr(out, "\"id\":\"python/manager\"") &&
                  strstr(out, "\"id\":\"test/slow\"") && !strstr(out, "example/hello"),
              "it lists itself and what plugins.manage:test/* covers: %s", out);
    out = answer("pymgr.manage", "[\"unload\", \"test/slow\"]");
    cr_assert(strncmp(out, "{\"ok\":{\"id\":\"test/slow\",", 24) == 0 && strstr(out, "\"state\":"), "%s", out);
    cr_assert(h_wait_state(c, "test/slow", "stopped", H_WAIT_MS), "test/slow is %s", state_of("test/slow"));
    out = answer("pymgr.manage", "[\"load\", \"test/slow\"]");
    cr_assert(strncmp(out, "{\"ok\":{\"id\":\"test/slow\",", 24) == 0, "%s", out);
    cr_assert(h_wait_state(c, "test/slow", "loaded", H_WAIT_MS), "test/slow is %s", state_of("test/slow"));
    pid_t slow = h_worker_pid(c, "test/slow");
    cr_assert(strstr(answer("pymgr.manage", "[\"reload\", \"test/slow\"]"), "{\"ok\":{\"id\":\"test/slow\","));
    cr_assert(h_wait_log(&h, "[test/slow] reloaded: worker"));
    cr_assert_neq(h_worker_pid(c, "test/slow"), slow);
    raised(answer("pymgr.manage", "[\"unload\", \"example/hello\"]"), "ManageError", BAY_EPERM,
           "python/manager may not unload example/hello: it was not granted plugins.manage:example/hello (or "
           "plugins.manage)");
    raised(answer("pymgr.manage", "[\"load\", \"test/nosuch\"]"), "ManageError", BAY_ENOENT,
           "no plugin \\\"test/nosuch\\\"");
    cr_assert_str_eq(state_of("example/hello"), "loaded");
    cr_assert(h_wait_log(&h, "[audit] plugin:python/manager: plugins.unload example/hello: BAY_EPERM"));
}

Test(python_manage, a_plugin_reloads_and_unloads_itself_in_the_middle_of_a_call)
{
    pid_t before = h_worker_pid(c, "python/manager");
    const char *out = answer("pymgr.manage", "[\"reload\", \"python/manager\"]");
    cr_assert(strncmp(out, "{\"ok\":{\"id\":\"python/manager\",", 29) == 0, "%s", out);
    cr_assert(h_wait_log(&h, "[python/manager] reloaded: worker"));
    cr_assert_neq(h_worker_pid(c, "python/manager"), before);
    struct above a = {"a", ticks("a") + 2};
    cr_assert(h_wait_until(ticked_past, &a, H_WAIT_MS), "the new worker's on_load timer never ticked");
    out = answer("pymgr.manage", "[\"unload\", \"python/manager\"]");
    cr_assert(strstr(out, "\"id\":\"python/manager\"") && strstr(out, "\"state\":\"unloading\""),
              "the call answered before the drain: %s", out);
    cr_assert(h_wait_state(c, "python/manager", "stopped", H_WAIT_MS), "python/manager is %s",
              state_of("python/manager"));
    cr_assert_str_eq(state_of("test/slow"), "loaded");
}
