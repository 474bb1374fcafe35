/* broker/timer.h — a serving plugin's timers: its manifest's, and those it sets, moves and removes at run time. */
#ifndef BAY_TIMER_H
#define BAY_TIMER_H

#include "broker.h"

/* The most timers one plugin has at once, its manifest's included. */
#define TIMERS_MAX 64

/* timers_start gives p, whose worker just started serving, its manifest's
 * timers, the first tick of each one interval from now; any it had go. */
void timers_start(plugin *p, int64_t now);

/* timers_retire keeps p's timers as its old worker's (a reload switched to a
 * new one) until timers_clear(&p->life.old_timers): their ticks in flight
 * still point to them. */
void timers_retire(plugin *p);

/* timers_clear frees the timers of t, none of whose ticks is in flight. */
void timers_clear(plugin_timers *t);

/* timers_tick starts a tick of each timer of p that is due and not running
 * (ticks missed meanwhile are skipped), frees those removed whose last tick
 * ended, and returns when the next is due (0: none). */
int64_t timers_tick(broker *b, plugin *p, int64_t now);

/* timers_set gives p timer name (as a provide's name), calling function
 * every interval_ms (1 .. 86400000), its first tick one interval from now:
 * a new timer, or one it had moved to the new interval and function (a
 * tick running goes on). 0, or BAY_EINVAL (a bad name, interval or
 * function) or BAY_EBUSY (TIMERS_MAX reached) with err. */
int timers_set(plugin *p, const char *name, int64_t interval_ms, const char *function, int64_t now, bay_error *err);

/* timers_remove stops p's timer name (a tick running ends as it would):
 * 0, or BAY_ENOENT with err. */
int timers_remove(plugin *p, const char *name, bay_error *err);

/* timers_list returns p's timers as an array of {name, interval_ms,
 * function, next_in_ms, running, set_at_run_time}. */
bay_value *timers_list(const plugin *p, int64_t now);

#endif
