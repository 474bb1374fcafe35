/* broker/cgroup.h — per-plugin cgroup v2 memory limits. */
#ifndef BAY_CGROUP_H
#define BAY_CGROUP_H

#include "broker.h"

/* cgroup_init checks --cgroup (clearing it when unusable) and says in the log
 * which limits workers get. */
void cgroup_init(broker *b);
/* cgroup_place moves p's new worker into its own cgroup with memory.max. */
void cgroup_place(broker *b, plugin *p);

#endif
