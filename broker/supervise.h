/* broker/supervise.h — worker processes: spawn, output, heartbeats, kill, reap. */
#ifndef BAY_SUPERVISE_H
#define BAY_SUPERVISE_H

#include "broker.h"

/* supervise_init makes plugbayd a child subreaper (a worker's orphans stay its
 * descendants, see peer.h) and its peer guard, and cleans up after a killed broker. */
int supervise_init(broker *b, bay_error *err);
/* supervise_spawn starts p's worker with a connection of its own: 0, or the code with err. */
int supervise_spawn(broker *b, plugin *p, bay_error *err);
void supervise_reap(broker *b);
void supervise_read_output(broker *b, plugin *p);
void supervise_kill(broker *b, plugin *p, const char *why);
/* supervise_end stops the worker of p, which has nothing left to do (it
 * answered its unload): no warning, and its end is no crash. */
void supervise_end(broker *b, plugin *p);
int64_t supervise_tick(broker *b, int64_t now);
/* supervise_usage reads a worker's CPU time (user + system, ms) and PSS (kB)
 * from /proc; -1 where it cannot. */
void supervise_usage(pid_t pid, int64_t *cpu_ms, int64_t *pss_kb);
void supervise_kill_all(broker *b);
/* supervise_proc_init sets up a new plugin's worker record (no worker yet). */
void supervise_proc_init(plugin *p);
/* supervise_beat records the answer to heartbeat seq from p's worker. */
void supervise_beat(plugin *p, uint64_t seq);
/* supervise_loaded restarts p's heartbeat clock: its worker just loaded it. */
void supervise_loaded(plugin *p);
/* supervise_refused adds up what p's worker says its sandbox refused (COMMAND
 * "refused": a map of kind -> count since its last report, refusals.h), for
 * status and info, and says so in the log within p's rate limit. A report
 * that is not such a map is logged and ignored (the worker is not trusted). */
void supervise_refused(broker *b, plugin *p, const bay__frame *f);
/* supervise_log logs message, from a LOG frame of p's worker, at level,
 * within the rate limit p's output has too (1,000 lines per 10 s). */
void supervise_log(broker *b, plugin *p, int level, const char *message);

#endif
