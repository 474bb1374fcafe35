/* bridges/common/stream.h — a call's streamed answer (bay_call_emit of plugin.h); not for bridges. */
#ifndef BAY_WORKER_STREAM_H
#define BAY_WORKER_STREAM_H

#include "send.h"

/* bay__stream_end settles the answer of call, whose function returned 0 with
 * *result (NULL: nil): when it emitted chunks for a caller that takes the
 * answer whole, *result becomes their array, with the returned value (unless
 * nil) as its last item. Returns 0 or a code recorded with bay_call_error. */
int bay__stream_end(bay_invocation *call, bay_value **result);

#endif
