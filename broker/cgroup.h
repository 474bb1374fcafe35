/* broker/cgroup.h — per-plugin memory cgroups (cgroup v2 with --cgroup, or cgroup v1's memory controller). */
#ifndef BAY_CGROUP_H
#define BAY_CGROUP_H

#include "broker.h"

/* cgroup_init decides where workers' groups go (b->cg): the delegated cgroup v2
 * folder --cgroup names; on cgroup v1, a folder it makes in plugbayd's own
 * memory group (or the v1 memory folder --cgroup names); none with "--cgroup
 * none", --no-sandbox, in AddressSanitizer builds or when the folder cannot be
 * used. It says in the log which limits workers get. */
void cgroup_init(broker *b);

/* cgroup_place moves w, a new worker of p, into p's group with memory limit
 * mb MiB (during a reload both of p's workers share it), and records in
 * w->oom_kills the group's count of kills so far. */
void cgroup_place(broker *b, const plugin *p, int64_t mb, worker_proc *w);

/* cgroup_oom_kills returns how many processes the kernel killed in p's group
 * for passing its memory limit; -1 when p has no group or it cannot be read. */
int64_t cgroup_oom_kills(const broker *b, const plugin *p);

/* cgroup_end removes the plugins' groups, empty once their workers are gone,
 * and the folder cgroup_init made. */
void cgroup_end(broker *b);

#endif
