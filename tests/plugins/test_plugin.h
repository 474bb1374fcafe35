/* tests/plugins/test_plugin.h — small helpers shared by the test plugins. */
#ifndef BAY_TEST_PLUGIN_H
#define BAY_TEST_PLUGIN_H

#include <time.h>

#include <plugbay/plugin.h>

/* reply_str stores a new string s in *result. */
static inline int reply_str(bay_value **result, const char *s)
{
    *result = bay_str(s);
    return *result ? 0 : BAY_ENOMEM;
}

/* mono_ns returns CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* sleep_ms sleeps ms milliseconds. */
static inline void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* nap sleeps ms milliseconds (forever when negative) in 5 ms steps, returning
 * BAY_ECANCELED early, with a message, once call is cancelled or past its deadline. */
static inline int nap(bay_invocation *call, int64_t ms)
{
    int64_t start = mono_ns();
    for (int64_t slept = 0; ms < 0 || slept < ms; slept += 5) {
        if (bay_call_cancelled(call))
            return bay_call_error(call, BAY_ECANCELED,
                                  "%s: stopped after %lld ms: the call was cancelled or its deadline passed",
                                  bay_call_name(call), (long long)((mono_ns() - start) / 1000000));
        sleep_ms(ms < 0 || ms - slept >= 5 ? 5 : ms - slept);
    }
    return 0;
}

#endif
