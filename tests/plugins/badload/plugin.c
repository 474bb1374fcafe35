/* tests/plugins/badload/plugin.c — test/badload: refuses to load, saying why in the log. */
#include "test_plugin.h"

static int badload_init(void)
{
    bay_plugin_log(BAY_LOG_ERROR, "refusing to load: missing license key");
    return 1;
}

static int badload_ping(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "pong");
}

BAY_PLUGIN(badload_init, NULL, {"badload_ping", badload_ping});
