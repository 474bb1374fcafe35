/* plugin.c — @ID@: greets people by name (@NAME@.greet) and answers the @NAME@.started event. */
#include <stdio.h>
#include <stdlib.h>

#include <plugbay/plugin.h>

/* greet(name) returns "GREETING, NAME!", GREETING from the configuration ("Hello"). */
static int greet(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *name;
    int rc = bay_arg_str(call, args, 0, &name);
    if (rc)
        return rc;
    const bay_value *set = bay_map_get(bay_plugin_config(), "greeting");
    const char *greeting = bay_value_type(set) == BAY_STR ? bay_value_str(set, NULL) : "Hello";
    char text[512];
    snprintf(text, sizeof text, "%s, %s!", greeting, name);
    *result = bay_str(text);
    return *result ? 0 : BAY_ENOMEM;
}

/* started() logs a line and answers which plugin heard it. */
static int started(bay_invocation *call, const bay_value *args, bay_value **result)
{
    bay_plugin_log(BAY_LOG_INFO, "the application started");
    *result = bay_str(bay_plugin_id());
    return *result ? 0 : BAY_ENOMEM;
}

BAY_PLUGIN(NULL, NULL, {"greet", greet}, {"started", started});
