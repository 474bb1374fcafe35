/* tests/plugins/caller/plugin.c — test/caller: calls another extension point through the broker. */
#include "test_plugin.h"

/* caller.via(ext, args) calls ext with args and returns its result; a
 * failure comes back with the callee's code and message. */
static int caller_via(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *ext;
    int rc = bay_arg_str(call, args, 0, &ext);
    if (rc)
        return rc;
    const bay_value *ext_args = bay_array_get(args, 1);
    if (bay_value_type(ext_args) != BAY_ARRAY)
        return bay_call_error(call, BAY_ETYPE, "%s: argument 2 must be array, got %s", bay_call_name(call),
                              ext_args ? bay_type_name(bay_value_type(ext_args)) : "nothing");
    bay_error err;
    rc = bay_plugin_call(ext, ext_args, 0, result, &err);
    return rc ? bay_call_error(call, rc, "%s", err.message) : 0;
}

BAY_PLUGIN(NULL, NULL, {"caller_via", caller_via});
