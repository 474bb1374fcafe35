/* bridges/common/io.h — the worker's I/O thread and the job queue it fills for the main thread; not for bridges. */
#ifndef BAY_WORKER_IO_H
#define BAY_WORKER_IO_H

#include "send.h"

/* bay__io_start registers for the broker's disconnect, sets bay__w.cancel and
 * starts the I/O thread, the only receiver on bay__w.sock. Returns 0 or an errno value. */
int bay__io_start(void);

/* bay__io_expect_close tells the I/O side that the broker may now close the
 * connection without the worker exiting at once (sent before the unload answer). */
void bay__io_expect_close(void);

/* bay__io_stop waits up to linger_ms for the broker to close the connection
 * (so frames already sent reach it), then closes the socket and joins the
 * I/O thread. */
void bay__io_stop(int linger_ms);

/* bay__queue_take takes the oldest job the main thread can handle now: with
 * wait NULL a CALL or COMMAND, waiting forever; otherwise a CALL or the reply
 * to wait->id, waiting until until_ns or until watch (when not NULL) is
 * cancelled or past its deadline, which return NULL. A CALL taken becomes the
 * innermost call in hand (bay__w.calls). */
bay__job *bay__queue_take(const bay__wait *wait, const bay_invocation *watch, int64_t until_ns);

/* bay__job_done ends a taken job: a CALL leaves the calls in hand (one from a
 * fast channel is counted, with j->answered and its time since it came, for
 * bay__io_report_fast_calls); the job is freed. */
void bay__job_done(bay__job *j);

/* bay__io_report_fast_calls tells plugbayd the fast calls answered since the
 * last report (COMMAND "fastcalls", callstat.h's value), if any: with each
 * heartbeat's answer, and before the unload's. Any thread. */
void bay__io_report_fast_calls(void);

/* bay__queue_expect registers w as waiting for the reply to id; the I/O thread
 * drops replies nobody expects. */
void bay__queue_expect(bay__wait *w, uint64_t id);

/* bay__queue_forget unregisters the innermost wait, w, and drops its reply if it is still queued. */
void bay__queue_forget(bay__wait *w);

#endif
