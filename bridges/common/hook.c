/* bridges/common/hook.c — the plugin's optional hooks: after a load, before an uninstall's unload, on new settings. */
#include "hook.h"

#include <stdio.h>
#include <string.h>

#include "store.h"

/* defines tells whether the loaded plugin has function. */
static bool defines(const char *function)
{
    return bay__w.bridge->has && bay__w.bridge->has(function);
}

/* run calls hook function with args on the main thread, outside any call:
 * 0, or its code with err saying what it reported. */
static int run(const char *function, const bay_value *args, bay_error *err)
{
    bay_invocation c = {.name = function, .function = function};
    bay_value *result = NULL;
    int rc = bay__w.bridge->call(function, &c, args, &result);
    bay_value_free(result);
    if (rc == 0)
        return 0;
    return bay_error_set(err, rc, bay__w.id, "%s failed: %s", function,
                         c.code ? c.message : bay_strerror(rc));
}

int bay__hook_after_load(const bay_value *hook, bay_error *err)
{
    const char *function = bay_value_str(bay_map_get(hook, "name"), NULL);
    if (function == NULL || !defines(function))
        return 0;
    bay_value *args = bay_array();
    const bay_value *from = bay_map_get(hook, "from");
    if (from)
        bay_array_push(args, bay_str(bay_value_str(from, NULL)));
    int rc = bay__store_begin(err);
    if (rc == 0) {
        rc = run(function, args, err);
        bay_error e;
        if (bay__store_end(rc == 0, &e) != 0 && rc == 0)
            rc = bay_error_set(err, e.code, bay__w.id, "%s: its storage was not kept: %s", function, e.message);
    }
    bay_value_free(args);
    return rc;
}

void bay__hook_before_unload(const bay_value *args)
{
    bay_error e;
    if (bay_value_bool(bay_map_get(args, "uninstall")) && defines("on_uninstall")) {
        bay_value *none = bay_array();
        if (run("on_uninstall", none, &e) != 0)
            bay_plugin_log(BAY_LOG_WARN, "%s", e.message);
        bay_value_free(none);
    }
}
