/* bridges/common/call.h — running one CALL on the main thread; not for bridges. */
#ifndef BAY_WORKER_CALL_H
#define BAY_WORKER_CALL_H

#include "send.h"

/* bay__run_call runs the CALL job j (taken with bay__queue_take) and answers
 * it, noting the code it answered with in j->answered. */
void bay__run_call(bay__job *j);

#endif
