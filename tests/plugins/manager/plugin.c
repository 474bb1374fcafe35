/* tests/plugins/manager/plugin.c — test/manager: timers set at run time (one from on_load), their ticks counted,
 * and the plugins it may manage listed, loaded, unloaded and reloaded — itself too. */
#include <string.h>

#include <plugbay/plugin.h>

static int64_t ticks_a, ticks_b; /* ticks of tick_a and tick_b */

/* failed ends a call with what the API said. */
static int failed(bay_invocation *call, int rc, const bay_error *e)
{
    return bay_call_error(call, rc, "%s", e->message);
}

static int mgr_timer_set(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)result;
    const char *name, *function;
    int64_t interval;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &name);
    if (rc || (rc = bay_arg_int(call, args, 1, &interval)) || (rc = bay_arg_str(call, args, 2, &function)))
        return rc;
    return (rc = bay_timer_set(name, interval, function, &e)) ? failed(call, rc, &e) : 0;
}

static int mgr_timer_remove(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)result;
    const char *name;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &name);
    return rc ? rc : (rc = bay_timer_remove(name, &e)) ? failed(call, rc, &e) : 0;
}

static int mgr_timers(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)args;
    bay_error e;
    int rc = bay_timer_list(result, &e);
    return rc ? failed(call, rc, &e) : 0;
}

static int mgr_ticks(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)args;
    *result = bay_map();
    bay_map_set(*result, "a", bay_int(ticks_a));
    bay_map_set(*result, "b", bay_int(ticks_b));
    return 0;
}

static int mgr_list(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)args;
    bay_error e;
    int rc = bay_plugins_list(result, &e);
    return rc ? failed(call, rc, &e) : 0;
}

static int mgr_manage(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *what, *id;
    bay_error e;
    int rc = bay_arg_str(call, args, 0, &what);
    if (rc || (rc = bay_arg_str(call, args, 1, &id)))
        return rc;
    return (rc = bay_plugins_manage(what, id, result, &e)) ? failed(call, rc, &e) : 0;
}

static int tick_a(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)args, (void)result;
    ticks_a++;
    return 0;
}

static int tick_b(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)args, (void)result;
    ticks_b++;
    return 0;
}

/* on_load sets timer "boot" (tick_a every 20 ms): set once the load ended. */
static int on_load(void)
{
    bay_error e;
    if (bay_timer_set("boot", 20, "tick_a", &e) != 0) {
        bay_plugin_log(BAY_LOG_ERROR, "%s", e.message);
        return 1;
    }
    return 0;
}

BAY_PLUGIN(on_load, NULL, {"mgr_timer_set", mgr_timer_set}, {"mgr_timer_remove", mgr_timer_remove},
           {"mgr_timers", mgr_timers}, {"mgr_ticks", mgr_ticks}, {"mgr_list", mgr_list}, {"mgr_manage", mgr_manage},
           {"tick_a", tick_a}, {"tick_b", tick_b});
