/* tests/plugins/wasm/manage/plugin.c — wasm/manage: timers set at run time (one from its constructor), their ticks
 * counted, the plugins it may manage (test/...) listed, loaded, unloaded and reloaded (itself too), and bad pointers
 * handed to those imports. */
#include <string.h>

#include "../common/testing.h"

static int64_t ticks_a, ticks_b; /* ticks of tick_a and tick_b */

/* reply ends a call with what an import answered: the value in reads (taken), or its code and why. */
static int reply(int rc, bay_in *in, const char *why, bay_out *result)
{
    if (rc)
        return bay_fail(rc, "%s", why);
    bay_out_raw(result, in->p, (uint32_t)(in->end - in->p));
    bay_in_free(in);
    return 0;
}

/* wm.timer_set(name, interval_ms, function) sets a timer. */
static int wm_timer_set(bay_args *args, bay_out *result)
{
    char name[200], function[200], why[300];
    int64_t interval;
    int rc = arg_cstr(args, name, sizeof name);
    if (rc || (rc = bay_arg_int(args, &interval)) || (rc = arg_cstr(args, function, sizeof function)))
        return rc;
    rc = bay_timer_set(name, (int32_t)interval, function, why, sizeof why);
    return rc ? bay_fail(rc, "%s", why) : 0;
}
BAY_WASM_EXPORT(wm_timer_set)

/* wm.timer_remove(name) removes a timer. */
static int wm_timer_remove(bay_args *args, bay_out *result)
{
    char name[200], why[300];
    int rc = arg_cstr(args, name, sizeof name);
    if (rc == 0 && (rc = bay_timer_remove(name, why, sizeof why)))
        rc = bay_fail(rc, "%s", why);
    return rc;
}
BAY_WASM_EXPORT(wm_timer_remove)

/* wm.timers() answers bay_timer_list's array. */
static int wm_timers(bay_args *args, bay_out *result)
{
    char why[300];
    bay_in timers;
    return reply(bay_timer_list(&timers, why, sizeof why), &timers, why, result);
}
BAY_WASM_EXPORT(wm_timers)

/* wm.ticks() answers {a, b}: how often tick_a and tick_b ran. */
static int wm_ticks(bay_args *args, bay_out *result)
{
    bay_out_map(result, 2);
    bay_out_cstr(result, "a");
    bay_out_int(result, ticks_a);
    bay_out_cstr(result, "b");
    bay_out_int(result, ticks_b);
    return 0;
}
BAY_WASM_EXPORT(wm_ticks)

/* wm.list() answers bay_plugins_list's array. */
static int wm_list(bay_args *args, bay_out *result)
{
    char why[300];
    bay_in plugins;
    return reply(bay_plugins_list(&plugins, why, sizeof why), &plugins, why, result);
}
BAY_WASM_EXPORT(wm_list)

/* wm.manage(what, id) answers bay_plugins_manage's map. */
static int wm_manage(bay_args *args, bay_out *result)
{
    char what[32], id[200], why[300];
    bay_in plugin;
    int rc = arg_cstr(args, what, sizeof what);
    if (rc || (rc = arg_cstr(args, id, sizeof id)))
        return rc;
    return reply(bay_plugins_manage(what, id, &plugin, why, sizeof why), &plugin, why, result);
}
BAY_WASM_EXPORT(wm_manage)

__attribute__((import_module("plugbay"), import_name("timer_set"))) int32_t raw_timer_set(uint32_t name, uint32_t len,
                                                                                        int32_t interval,
                                                                                        uint32_t function,
                                                                                        uint32_t function_len);
__attribute__((import_module("plugbay"), import_name("plugins_manage"))) int32_t raw_plugins_manage(uint32_t what,
                                                                                                  uint32_t what_len,
                                                                                                  uint32_t id,
                                                                                                  uint32_t id_len);

/* wm.bad(what) hands an import what is wrong: "name" a timer name outside the module's memory, "id" a plugin id
 * running past its end (both trap), "nul" a function name holding a NUL byte (answered: [code, message]). */
static int wm_bad(bay_args *args, bay_out *result)
{
    char what[16];
    int rc = arg_cstr(args, what, sizeof what);
    if (rc)
        return rc;
    if (strcmp(what, "name") == 0)
        rc = raw_timer_set(0xfffff000u, 100, 10, (uint32_t)(uintptr_t) "tick_b", 6);
    else if (strcmp(what, "id") == 0)
        rc = raw_plugins_manage((uint32_t)(uintptr_t) "load", 4, 16, 0xfffffff0u);
    else if (strcmp(what, "nul") == 0)
        rc = raw_timer_set((uint32_t)(uintptr_t) "t", 1, 10, (uint32_t)(uintptr_t) "tick\0b", 6);
    else
        return bay_fail(BAY_EINVAL, "wm.bad: unknown %s", what);
    out_answer(result, rc);
    return 0;
}
BAY_WASM_EXPORT(wm_bad)

/* tick_a and tick_b count their ticks: exports no manifest names, run by timers only. */
static int tick_a(bay_args *args, bay_out *result)
{
    ticks_a++;
    return 0;
}
BAY_WASM_EXPORT(tick_a)

static int tick_b(bay_args *args, bay_out *result)
{
    ticks_b++;
    return 0;
}
BAY_WASM_EXPORT(tick_b)

/* boot sets timer "boot" (tick_a every 20 ms) when _initialize runs the constructors: set once the load ended. */
__attribute__((constructor)) static void boot(void)
{
    char why[300];
    if (bay_timer_set("boot", 20, "tick_a", why, sizeof why) != 0)
        bay_log(BAY_LOG_ERROR, "%s", why);
}
