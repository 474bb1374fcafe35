/* tests/plugins/crash/plugin.c — test/crash: crashes its worker with SIGSEGV on demand. */
#include <stddef.h>
#include <stdlib.h>

#include "test_plugin.h"

/* crash.now writes through a NULL pointer that only exists at run time
 * (getenv of an unset variable), so the compiler can neither drop the store
 * nor turn it into a trap: the worker really dies of SIGSEGV. */
static int crash_now(bay_invocation *call, const bay_value *args, bay_value **result)
{
    volatile char *target = (volatile char *)getenv("PLUGBAY_TEST_UNSET_VARIABLE");
    *target = 42;
    return 0;
}

static int crash_ping(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "pong");
}

BAY_PLUGIN(NULL, NULL, {"crash_now", crash_now}, {"crash_ping", crash_ping});
