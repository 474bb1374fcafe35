/* tests/plugins/ctxall/plugin.c — test/ctxall: serves ctx.who in every context, after test/ctx. */
#include "test_plugin.h"

static int ctx_who(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "any-provider");
}

BAY_PLUGIN(NULL, NULL, {"ctx_who", ctx_who});
