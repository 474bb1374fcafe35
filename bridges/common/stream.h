/* bridges/common/stream.h — a call's streams, its answer and its input (bay_call_emit, bay_call_receive of plugin.h); not for bridges. */
#ifndef BAY_WORKER_STREAM_H
#define BAY_WORKER_STREAM_H

#include "send.h"

/* bay__stream_end settles the answer of call, whose function returned 0 with
 * *result (NULL: nil): when it emitted chunks for a caller that takes the
 * answer whole, *result becomes their array, with the returned value (unless
 * nil) as its last item. Returns 0 or a code recorded with bay_call_error. */
int bay__stream_end(bay_invocation *call, bay_value **result);

/* bay__stream_start gives the caller of call, when it sends input through
 * plugbayd, credit for its first BAY_INPUT_WINDOW chunks: the call just
 * started to run (on a fast channel, the ring is the input's back-pressure). */
void bay__stream_start(bay_invocation *call);

/* bay__stream_free frees what call's streams hold when it ends: chunks
 * gathered and not answered, input not taken (input that comes later is dropped). */
void bay__stream_free(bay_invocation *call);

#endif
