/* examples/plugins/hello/plugin.c — example/hello: greets by name and answers the app.started event. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <plugbay/plugin.h>

/* greet(name) returns "GREETING, NAME!", GREETING being the setting "greeting" (plugbay config example/hello
 * greeting=Howdy changes it while the plugin runs), or the config's "greeting" in a manifest without settings. */
static int greet(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *name;
    int rc = bay_arg_str(call, args, 0, &name);
    if (rc)
        return rc;
    const bay_value *set = bay_plugin_setting("greeting");
    const bay_value *chosen = set ? set : bay_map_get(bay_plugin_config(), "greeting");
    const char *greeting = bay_value_type(chosen) == BAY_STR ? bay_value_str(chosen, NULL) : "Hello";
    size_t size = (size_t)snprintf(NULL, 0, "%s, %s!", greeting, name) + 1;
    char *text = malloc(size);
    if (text == NULL)
        return BAY_ENOMEM;
    snprintf(text, size, "%s, %s!", greeting, name);
    *result = bay_str(text);
    free(text);
    return *result ? 0 : BAY_ENOMEM;
}

/* app.started returns {"plugin": ID, "at_ns": CLOCK_MONOTONIC time of the answer}. */
static int app_started(bay_invocation *call, const bay_value *args, bay_value **result)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    bay_value *map = bay_map();
    if (map == NULL || bay_map_set(map, "plugin", bay_str(bay_plugin_id())) ||
        bay_map_set(map, "at_ns", bay_int((int64_t)now.tv_sec * 1000000000 + now.tv_nsec))) {
        bay_value_free(map);
        return BAY_ENOMEM;
    }
    *result = map;
    return 0;
}

BAY_PLUGIN(NULL, NULL, {"greet", greet}, {"app_started", app_started});
