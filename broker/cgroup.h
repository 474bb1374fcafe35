/* broker/cgroup.h — per-plugin cgroup v2 memory limits. */
#ifndef BAY_CGROUP_H
#define BAY_CGROUP_H

#include "broker.h"

/* cgroup_init checks --cgroup (clearing it when unusable) and says in the log
 * which limits workers get. */
void cgroup_init(broker *b);
/* cgroup_place moves pid, a new worker of p running manifest m, into p's
 * cgroup with m's memory.max (during a reload both of p's workers share it). */
void cgroup_place(broker *b, const plugin *p, const bay__manifest *m, pid_t pid);

#endif
