/* examples/plugins/audit/plugin.c — example/audit: a second app.started listener, a fallback greet and math.add. */
#include <stdio.h>
#include <time.h>

#include <plugbay/plugin.h>

/* started answers app.started like example/hello does: {"plugin": ID, "at_ns": monotonic ns}. */
static int started(bay_invocation *call, const bay_value *args, bay_value **result)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    *result = bay_map();
    if (*result == NULL)
        return BAY_ENOMEM;
    int rc = bay_map_set(*result, "plugin", bay_str(bay_plugin_id()));
    return rc ? rc : bay_map_set(*result, "at_ns", bay_int((int64_t)now.tv_sec * 1000000000 + now.tv_nsec));
}

/* greet_too serves greet only when example/hello (which comes first) is not loaded. */
static int greet_too(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *name;
    int rc = bay_arg_str(call, args, 0, &name);
    if (rc)
        return rc;
    bay_plugin_log(BAY_LOG_INFO, "greeting %s in place of example/hello", name);
    char text[256];
    snprintf(text, sizeof text, "Greetings, %s (from example/audit)", name);
    *result = bay_str(text);
    return *result ? 0 : BAY_ENOMEM;
}

/* math.add(a, b) returns a + b for two ints. */
static int math_add(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t a, b;
    int rc = bay_arg_int(call, args, 0, &a);
    if (rc || (rc = bay_arg_int(call, args, 1, &b)))
        return rc;
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return bay_call_error(call, BAY_EINVAL, "math.add: %lld + %lld overflows a 64-bit int", (long long)a,
                              (long long)b);
    *result = bay_int(a + b);
    return *result ? 0 : BAY_ENOMEM;
}

BAY_PLUGIN(NULL, NULL, {"started", started}, {"greet_too", greet_too}, {"math_add", math_add});
