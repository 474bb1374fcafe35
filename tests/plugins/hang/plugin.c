/* tests/plugins/hang/plugin.c — test/hang: calls that never return, or return only when cancelled. */
#include "test_plugin.h"

/* hang.forever never returns and ignores cancels: only killing the worker ends it. */
__attribute__((noreturn)) static int hang_forever(bay_invocation *call, const bay_value *args, bay_value **result)
{
    for (;;)
        sleep_ms(1000);
}

/* hang.polite waits until the call is cancelled (or its deadline passes), then returns BAY_ECANCELED. */
static int hang_polite(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return nap(call, -1);
}

static int hang_ping(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "pong");
}

BAY_PLUGIN(NULL, NULL, {"hang_forever", hang_forever}, {"hang_polite", hang_polite}, {"hang_ping", hang_ping});
