/* client/fastpath.h — libplugbay's side of fast channels: handle calls straight to a plugin's worker through shared memory.
 *
 * The first call of a (name, context) asks plugbayd for a channel (COMMAND
 * channel), or for an event one per provider; a grant is a worker's address
 * and a one-time token, a refusal (a host provider, a tcp connection, ...)
 * sends that route's calls through plugbayd until a channel-revoked notice
 * says its providers changed. An event's host calls its providers one after
 * the other and gathers their outcomes as plugbayd would.
 * A call that cannot go on its channel (revoked before the worker took it)
 * goes through plugbayd too: revocation never fails a call. bay_call_async
 * always goes through plugbayd. $PLUGBAY_FASTPATH=0 turns the fast path off
 * for connections made afterwards. */
#ifndef BAY_CLIENT_FASTPATH_H
#define BAY_CLIENT_FASTPATH_H

#include <stdbool.h>

#include "client.h"

/* bay__fast_new returns a connection's fast-path state, or NULL when
 * $PLUGBAY_FASTPATH is "0" (or memory is short): calls then all go through plugbayd. */
bay__fast *bay__fast_new(void);

/* bay__fast_free closes every channel of fp (NULL is ignored); no call may be running. */
void bay__fast_free(bay__fast *fp);

/* bay__fast_close ends fp's calls waiting on a channel (within a ring wait's
 * slice) and every later one with BAY_ECONN, cancelling them at their worker:
 * bay_close calls it first. NULL is ignored. */
void bay__fast_close(bay__fast *fp);

/* bay__fast_call runs CALL f (its args packed in f->raw) on a fast channel
 * when c has one for its name and context, giving the outcome in *rc (and
 * *result or err) as bay_call would. Returns false, touching nothing, when
 * the call must go through plugbayd instead. */
bool bay__fast_call(bay_conn *c, bay__frame *f, int timeout_ms, bay_value **result, bay_error *err, int *rc);

/* bay__fast_stream_open starts CALL f (a handle's, window set; input set: an upload) as
 * a stream on a fast channel when c has one for its name and context: true
 * with the stream in *out (which counts as one of c's handles) and *rc 0, or
 * with the failure in *rc and err. Returns false, touching nothing, when it
 * must go through plugbayd instead. The stream holds the channel until its
 * answer was read or it is freed; an upload whose input had not ended then
 * writes CANCEL behind it in the ring, so that the worker stops reading input
 * before the channel's next CALL. */
bool bay__fast_stream_open(bay_conn *c, bay__frame *f, int timeout_ms, bay__fast_stream **out, bay_error *err,
                           int *rc);

/* bay__fast_stream_next, _cancel and _free are bay_stream_next,
 * bay_stream_cancel and bay_stream_free for a stream on a fast channel. A
 * chunk waiting on *chunk must be NULL on entry. Cancelling ends a wait in
 * bay__fast_stream_next within a ring's slice; freeing a stream that still
 * runs cancels it at its worker and leaves what is left of it in the ring,
 * for the channel's next call to skip. */
int bay__fast_stream_next(bay__fast_stream *s, int wait_ms, bay_value **chunk, bay_error *err);
void bay__fast_stream_cancel(bay__fast_stream *s);
void bay__fast_stream_free(bay__fast_stream *s);

/* bay__fast_stream_send writes f, a CHUNK (its value packed in raw) or the
 * END of upload s's input, to the ring behind its CALL, waiting for room up
 * to wait_ms (-1: the call's deadline). A chunk too large to be written whole
 * streams through the ring while the worker reads it: with wait_ms 0 it is
 * not begun (BAY_EPENDING), else it waits as long as the call may. Returns 0;
 * BAY_EPENDING when the worker took no input within wait_ms; BAY_ESTATE once the stream ended (its reason in err);
 * BAY_EINVAL for a frame over BAY_FRAME_MAX; BAY_ECONN after bay_close. One
 * writer at a time, beside the stream's reader. */
int bay__fast_stream_send(bay__fast_stream *s, bay__frame *f, int wait_ms, bay_error *err);

/* bay__fast_notice takes a channel-revoked NOTICE (returns true); other notices are not its business (false). */
bool bay__fast_notice(bay_conn *c, const bay__frame *f);

#endif
