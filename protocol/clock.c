/* protocol/clock.c — the one clock plugbay measures time with, CLOCK_MONOTONIC, and the time of day it tells people. */
#include "clock.h"

#include <time.h>

int64_t bay__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bay__now_ms(void)
{
    return bay__now_ns() / 1000000;
}

int64_t bay__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
