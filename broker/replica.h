/* broker/replica.h — a plugin's replicas: more workers its calls spread over (docs/manifest.md#replicas). */
#ifndef BAY_REPLICA_H
#define BAY_REPLICA_H

#include "broker.h"

/* replica_init makes replicas follow their plugins' states (a notice listener) and be told when one ends. */
void replica_init(broker *b);

/* replica_ready sends COMMAND load to the worker on c that just said HELLO, when it is one of p's replicas:
 * true then (or when it ended it: the plugin moved on), false when c is no replica. */
bool replica_ready(broker *b, plugin *p, conn *c);

/* replica_answer takes the answer f to a replica's COMMAND load or unload: true when it was one. */
bool replica_answer(broker *b, plugin *p, conn *c, const bay__frame *f);

/* replica_ended is told that replica r of p ended, and why (a replica_gone of broker.h): its calls fail with
 * BAY_ECRASHED, and one that ended unasked starts again (RESTART_MS later; not after four ends within the
 * restart window, until the plugin loads again). */
void replica_ended(broker *b, plugin *p, replica *r, const char *why);

/* replica_tick starts the replicas due again and those whose settings changed; returns when it is due next (0: not). */
int64_t replica_tick(broker *b, int64_t now);

/* replica_info lists p's replicas for status and info: [{replica, pid, state, calls, cpu_ms, pss_kb}] (a new
 * array), and adds each one's CPU time (ms) and PSS (kB) to *cpu_ms and *pss_kb where known (-1 there: none yet). */
bay_value *replica_info(const plugin *p, int64_t *cpu_ms, int64_t *pss_kb);

#endif
