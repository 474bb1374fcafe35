/* tests/plugins/ctx/plugin.c — test/ctx: serves ctx.who in context "fr" only. */
#include "test_plugin.h"

static int ctx_who(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "fr-provider");
}

BAY_PLUGIN(NULL, NULL, {"ctx_who", ctx_who});
