/* bridges/common/fastpath.h — the worker's side of fast channels: hosts the broker admitted call it through shared memory.
 *
 * Threads: bay__fast_command and bay__fast_check_hung run on the I/O thread; a
 * channel thread (started with the first channel) accepts hosts, hands them
 * the channel's memfd and reads their CANCEL frames and hang-ups; everything
 * else runs on the main thread, the only one that touches the rings. */
#ifndef BAY_WORKER_FASTPATH_H
#define BAY_WORKER_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "send.h"

/* At most this many hosts hold a channel to one worker at a time. */
#define BAY_FAST_CHANNELS_MAX 64
/* Longest the worker waits for a host to make room for an answer. */
#define BAY_FAST_SEND_MS 2000

/* bay__fast_command handles a COMMAND from the broker meant for the fast path:
 * channel.open {token, pid, hang_grace_ms} (admit the host with that pid and
 * token; answered with {"address": ...}), channel.close {token} (revoke: not
 * answered) and channel.drain (close every channel, the calls in hand finish;
 * answered with RESULT nil once no fast call is in hand, by the main thread).
 * Returns false for any other command. */
bool bay__fast_command(const bay__frame *f);

/* bay__fast_take returns a CALL job read from a channel's ring (its call.chan
 * set), or NULL when no ring holds a frame. It first retires the channels
 * that were revoked or whose host went away and that no call in hand uses. */
bay__job *bay__fast_take(void);

/* bay__fast_sleep waits until bay__w.bell moves from seen, a channel's ring
 * gets a frame, or until_ns (0 = no limit); with channels open it spins first. */
void bay__fast_sleep(uint32_t seen, int64_t until_ns);

/* bay__fast_cancelled tells whether the host of ch cancelled call id before the main thread took it. */
bool bay__fast_cancelled(bay__chan *ch, uint64_t id);

/* bay__fast_receive is bay_call_receive for a call that came on a fast
 * channel with input: its host writes the input to the ring behind the CALL
 * (CHUNKs, then END or, when it abandons it, CANCEL), and the call reads it
 * there itself; no other frame is taken from that ring meanwhile. *chunk must
 * be NULL on entry. Returns 0 with the next chunk in *chunk, or with *chunk
 * NULL once the input ended; the call's stop code; or BAY_ECONN (recorded)
 * when the channel broke first. */
int bay__fast_receive(bay_invocation *call, bay_value **chunk);

/* bay__fast_release ends a call from ch (NULL is ignored): a revoked channel can go once none is left. */
void bay__fast_release(bay__chan *ch);

/* bay__fast_check_hung asks the broker to kill this worker when a fast call
 * has run past its deadline by more than the broker's hang grace: the broker
 * does not see fast calls, so it cannot tell by itself. */
void bay__fast_check_hung(void);

/* bay__fast_stop closes every channel so that hosts send their next calls to
 * the broker, and ends the channel thread. Main thread, before the worker exits. */
void bay__fast_stop(void);

#endif
