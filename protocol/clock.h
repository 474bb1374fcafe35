/* protocol/clock.h — the one clock plugbay measures time with, CLOCK_MONOTONIC, and the time of day it tells people. */
#ifndef BAY_CLOCK_H
#define BAY_CLOCK_H

#include <stdint.h>

/* bay__now_ns returns CLOCK_MONOTONIC in nanoseconds. */
int64_t bay__now_ns(void);

/* bay__now_ms returns CLOCK_MONOTONIC in milliseconds. */
int64_t bay__now_ms(void);

/* bay__wall_ms returns the time of day (CLOCK_REALTIME) in milliseconds since the epoch: for people, never for
 * measuring. */
int64_t bay__wall_ms(void);

#endif
