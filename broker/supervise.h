/* broker/supervise.h — worker processes: spawn, output, heartbeats, kill, reap. */
#ifndef BAY_SUPERVISE_H
#define BAY_SUPERVISE_H

#include "broker.h"

/* supervise_init makes plugbayd a child subreaper (a worker's orphans stay its
 * descendants, see peer.h) and its peer guard, and cleans up after a killed broker. */
int supervise_init(broker *b, bay_error *err);
/* supervise_spawn starts p's worker with a connection of its own: 0, or the code with err. */
int supervise_spawn(broker *b, plugin *p, bay_error *err);
/* supervise_spawn_other starts a second worker of p, running manifest m (a
 * reload's), as p->other on p->other_worker, beside the one serving. */
int supervise_spawn_other(broker *b, plugin *p, const bay__manifest *m, bay_error *err);
/* supervise_spawn_replica starts one more worker of p, running p->m, as replica r. */
int supervise_spawn_replica(broker *b, plugin *p, replica *r, bay_error *err);
/* supervise_end_replica stops replica r's worker: killed for why (said in the
 * log, and what its end reports), or with why NULL ended as one that
 * answered its unload (no warning, no crash). */
void supervise_end_replica(broker *b, plugin *p, replica *r, const char *why);
/* supervise_swap makes p's other worker the serving one and the serving one
 * the other (a reload's switch); what the sandbox refused stays the plugin's. */
void supervise_swap(plugin *p);
/* supervise_reap reaps ended workers, telling b->worker_gone which of a plugin's two ended, or b->replica_gone
 * which replica. */
void supervise_reap(broker *b);
/* supervise_read_output logs what p's worker w wrote. */
void supervise_read_output(broker *b, plugin *p, worker_proc *w);
/* supervise_kill kills p's serving worker, supervise_kill_other its other
 * one, supervise_kill_worker the worker on connection c; each says why in
 * the log, and why is what its end reports. */
void supervise_kill(broker *b, plugin *p, const char *why);
void supervise_kill_other(broker *b, plugin *p, const char *why);
void supervise_kill_worker(broker *b, conn *c, const char *why);
/* supervise_end stops the serving worker of p (supervise_end_other its
 * other), which has nothing left to do (it answered its unload): no warning,
 * and its end is no crash. */
void supervise_end(broker *b, plugin *p);
void supervise_end_other(broker *b, plugin *p);
int64_t supervise_tick(broker *b, int64_t now);
/* supervise_usage reads a worker's CPU time (user + system, ms) and PSS (kB;
 * pss_kb NULL: not read, it costs a walk of the worker's mappings) from
 * /proc; -1 where it cannot. */
void supervise_usage(pid_t pid, int64_t *cpu_ms, int64_t *pss_kb);
/* supervise_kill_all kills every worker and waits for it (at exit), then
 * removes their memory groups. */
void supervise_kill_all(broker *b);
/* supervise_proc_init sets up a new plugin's worker record (no worker yet). */
void supervise_proc_init(plugin *p);
/* supervise_beat records the answer to heartbeat seq from p's worker on connection c. */
void supervise_beat(plugin *p, const conn *c, uint64_t seq);
/* supervise_loaded restarts p's heartbeat clock: its worker just loaded it.
 * Its language is in use: its zygote starts now, when it has one (zygote.h). */
void supervise_loaded(broker *b, plugin *p);
/* supervise_refused adds up what p's worker says its sandbox refused (COMMAND
 * "refused": a map of kind -> count since its last report, refusals.h), for
 * status and info, and says so in the log within p's rate limit. A report
 * that is not such a map is logged and ignored (the worker is not trusted). */
void supervise_refused(broker *b, plugin *p, const bay__frame *f);
/* supervise_log logs message, from a LOG frame of p's worker on connection
 * c, at level, within the rate limit that worker's output has too (1,000
 * lines per 10 s). */
void supervise_log(broker *b, plugin *p, const conn *c, int level, const char *message);

#endif
