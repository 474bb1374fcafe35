/* tests/plugins/slow/plugin.c — test/slow: calls that take as long as asked, an echo, which worker answers, and
 * output on load. */
#include <stdio.h>
#include <time.h>

#include "test_plugin.h"

/* This worker's mark, made at load: workers of one plugin (its replicas) answer slow.who with different ones. */
static char mark[64];

/* on_load writes one line to each of stdout and stderr, which the broker must capture. */
static int slow_load(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(mark, sizeof mark, "worker-%lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
    printf("stdout-line from slow\n");
    fprintf(stderr, "stderr-line from slow\n");
    return 0;
}

/* sleep_arg sleeps as many milliseconds as the call's first argument says (*ms), stopping early when cancelled. */
static int sleep_arg(bay_invocation *call, const bay_value *args, int64_t *ms)
{
    int rc = bay_arg_int(call, args, 0, ms);
    return rc ? rc : nap(call, *ms < 0 ? 0 : *ms);
}

/* slow.sleep(ms) sleeps ms milliseconds, stopping early when cancelled, and returns ms. */
static int slow_sleep(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t ms;
    int rc = sleep_arg(call, args, &ms);
    if (rc)
        return rc;
    *result = bay_int(ms);
    return *result ? 0 : BAY_ENOMEM;
}

/* slow.echo returns its argument array. */
static int slow_echo(bay_invocation *call, const bay_value *args, bay_value **result)
{
    *result = bay_value_copy(args);
    return *result ? 0 : BAY_ENOMEM;
}

/* slow.who(ms) sleeps ms milliseconds, as slow.sleep, and returns this worker's mark. */
static int slow_who(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t ms;
    int rc = sleep_arg(call, args, &ms);
    if (rc)
        return rc;
    *result = bay_str(mark);
    return *result ? 0 : BAY_ENOMEM;
}

BAY_PLUGIN(slow_load, NULL, {"slow_sleep", slow_sleep}, {"slow_echo", slow_echo}, {"slow_who", slow_who});
