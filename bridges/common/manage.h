/* bridges/common/manage.h — timers set at run time as the worker dispatches them; not for bridges. */
#ifndef BAY_WORKER_MANAGE_H
#define BAY_WORKER_MANAGE_H

#include "send.h"

/* bay__timers_after_load sets the timers the plugin asked for during its
 * load, now that plugbayd has the load's answer; a refusal is logged. */
void bay__timers_after_load(void);

#endif
