/* client/client.h — libplugbay internals: the connection, its requests and its dispatch queue.
 *
 * Threads: the receiver thread (conn.c) is the only reader of the socket; it
 * answers requests (request.c) and queues the broker's CALL and NOTICE frames
 * for the dispatch thread (dispatch.c), which runs handlers and callbacks.
 * Everything below "mu" in bay_conn is guarded by mu. */
#ifndef BAY_CLIENT_H
#define BAY_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <plugbay/plugbay.h>

#include "clock.h"
#include "frame.h"

/* Deadline of DECLARE, PROVIDE and SUBSCRIBE. */
#define BAY_SETUP_TIMEOUT_MS BAY_DEFAULT_TIMEOUT_MS
/* Default deadline of bay_command. */
#define BAY_COMMAND_TIMEOUT_MS 30000
/* Buckets of the pending-request table (ids are sequential, so id % n spreads them). */
#define BAY_PENDING_BUCKETS 64

/* One request waiting for its RESULT or ERROR. While registered it sits in
 * its connection's table, where only code holding conn->mu touches it; its
 * owner (bay__request's stack or a bay_call_async handle) frees it only after
 * taking it out of the table under conn->mu. */
struct bay_pending {
    bay_conn *conn;
    uint64_t id;
    char what[160];       /* "call \"greet\"", for messages */
    int64_t deadline;     /* monotonic ms after which the library stops waiting */
    int wait_ms;          /* the whole wait, for messages */
    pthread_cond_t done_cv;
    bool registered;      /* in conn->table, answer not yet in */
    bool done;            /* the outcome below is set */
    bool taken;           /* the outcome was handed out */
    bay_error err;        /* the outcome: err.code 0 means success with result */
    bay_value *result;
    bool stream;          /* a stream's (bay_call_stream): CHUNKs queue below, a RESULT's value is the last */
    bool input;           /* its caller sends input (bay_call_upload) */
    int64_t input_credit; /* the input chunks the provider takes now (its CREDITs less those sent) */
    struct bay__chunk *chunks, *chunks_tail; /* a stream's chunks received and not yet taken, oldest first */
    struct bay_pending *next; /* next in its table bucket */
};

/* One chunk of a stream, queued in its bay_pending. */
typedef struct bay__chunk {
    struct bay__chunk *next;
    bay_value *value;
} bay__chunk;

typedef struct bay__job bay__job;           /* a CALL or NOTICE for the dispatch thread */
typedef struct bay__fast bay__fast;         /* the connection's fast channels (fastpath.c) */
typedef struct bay__fast_stream bay__fast_stream; /* a stream read from a fast channel (fastpath.c) */
typedef struct bay__provider bay__provider; /* a handler registered with bay_provide or bay_provide_async */

struct bay_conn {
    char *url;          /* the broker's public URL, as messages name it */
    char *name;         /* the host's name */
    char *self;         /* "host:NAME", the plugin field of this host's errors */
    nng_socket sock;
    atomic_uint_fast64_t next_id;
    atomic_uint_fast64_t bye_id; /* the id of bay_close's COMMAND bye, 0 before it */
    pthread_t receiver;
    bay__fast *fast;     /* NULL when the fast path is off */

    pthread_mutex_t mu;
    pthread_cond_t idle_cv;  /* broadcast when users drops to 0 */
    bay_pending *table[BAY_PENDING_BUCKETS];
    const char *down;        /* NULL while up; else "lost" or "closed by bay_close" */
    int users;               /* threads inside a request (bay_close waits for them) */
    size_t handles;          /* bay_call_async handles not yet freed */
    bool orphaned;           /* bay_close is done; the last handle frees the struct */
    void (*destroy)(bay_conn *c); /* frees the struct (conn.c's, set at bay_connect): request.c's last handle calls it */

    bool dispatching;        /* the dispatch thread was started */
    bool stopping;           /* the dispatch thread must end */
    pthread_t dispatcher;
    pthread_cond_t job_cv;
    bay__job *jobs, *jobs_tail;
    bay__provider *providers;
    bay_reply *replies;      /* bay_provide_async's calls not answered yet (reply.c), each counted in handles */
    bay_notice_fn notice_fn;
    void *notice_user;
};

/* request.c */

/* bay__conn_enter / bay__conn_leave bracket code that uses c and may block, so
 * bay_close can wait for it to leave before freeing c. */
void bay__conn_enter(bay_conn *c);
void bay__conn_leave(bay_conn *c);

/* bay__conn_hold counts a handle of c (a pending call, a stream) that may
 * outlive bay_close; bay__conn_unhold drops it, freeing c when it was the
 * last of a closed connection's. */
void bay__conn_hold(bay_conn *c);
void bay__conn_unhold(bay_conn *c);

/* bay__conn_down_locked marks c down for reason why (the first reason stays)
 * and fails every registered request with BAY_ECONN. */
void bay__conn_down_locked(bay_conn *c, const char *why);

/* bay__conn_down_error fills err with BAY_ECONN for a connection that is down. */
int bay__conn_down_error(const bay_conn *c, bay_error *err);

/* bay__conn_send encodes f and sends it (flags 0 or NNG_FLAG_NONBLOCK),
 * refusing frames over BAY_FRAME_MAX. what names the frame in error messages. */
int bay__conn_send(bay_conn *c, const bay__frame *f, int flags, const char *what, bay_error *err);

/* bay__conn_answer completes the request that f (RESULT or ERROR) answers, if
 * it is still waiting; code non-zero means f could not be decoded (why says how). */
void bay__conn_answer(bay_conn *c, const bay__frame *f, int code, const char *why);

/* bay__request sends f (its id is set here) and waits up to wait_ms for the
 * answer. On success *result, when result is not NULL, is the answer's value. */
int bay__request(bay_conn *c, bay__frame *f, int wait_ms, bay_value **result, bay_error *err);

/* bay__pending_find_locked returns c's registered request id, or NULL. Lock held. */
bay_pending *bay__pending_find_locked(bay_conn *c, uint64_t id);

/* bay__chunk_push_locked queues v (taken; freed when p is not a stream) as p's next chunk. Lock held. */
void bay__chunk_push_locked(bay_pending *p, bay_value *v);

/* bay__request_async sends f like bay__request and returns at once with *out, a
 * pending request counted as a handle of c (see bay_pending_free); stream:
 * its answer comes as a stream (stream.c). */
int bay__request_async(bay_conn *c, bay__frame *f, int wait_ms, bool stream, bay_pending **out, bay_error *err);

/* bay__pending_expire_locked fails p with BAY_ETIMEDOUT once its deadline
 * passed: true then, and the caller sends the broker a CANCEL (bay__send_cancel). */
bool bay__pending_expire_locked(bay_pending *p);

/* bay__send_cancel tells plugbayd, without waiting, that request id is cancelled. */
int bay__send_cancel(bay_conn *c, uint64_t id);

/* stream.c */

/* A stream's reader (bay_call_stream, bay_call_upload): its request through plugbayd, or its fast channel's
 * stream (fast: then p is NULL); the chunks taken since the last CREDIT, whether its input ended (bay_stream_send_end). */
struct bay_stream {
    bay_pending *p;         /* through plugbayd; or */
    bay__fast_stream *fast; /* on a fast channel */
    int taken;              /* chunks read since the last CREDIT (through plugbayd) */
    bool input;             /* an upload: its caller sends input */
    bool input_ended;
    char what[160];         /* "call \"greet\"", for messages */
};

/* bay__conn_credit takes a CREDIT from the receiver thread: more input the provider of request f->id takes. */
void bay__conn_credit(bay_conn *c, const bay__frame *f);


/* bay__conn_chunk takes a CHUNK from the receiver thread: queued for the stream it belongs to, else dropped. */
void bay__conn_chunk(bay_conn *c, const bay__frame *f);

/* reply.c */

/* bay__answer_call answers the broker's CALL id of name: with result (NULL:
 * nil) when rc is 0 and it can be packed and sent, else with an ERROR of rc
 * (BAY_EPLUGIN when not positive) and e's message (filled in when empty).
 * Returns 0 or why sending failed. */
int bay__answer_call(bay_conn *c, uint64_t id, const char *name, int rc, const bay_value *result, bay_error *e);

/* bay__reply_new registers a reply for the broker's CALL id of name, counted
 * as a handle of c; NULL when out of memory. */
bay_reply *bay__reply_new(bay_conn *c, uint64_t id, const char *name);

/* bay__reply_cancel marks the unanswered reply to CALL id, if any, stopped for
 * code (the broker's CANCEL); true when there was one. */
bool bay__reply_cancel(bay_conn *c, uint64_t id, int code);

/* bay__reply_orphan_locked marks every unanswered reply stopped (BAY_ECANCELED): c is closing. */
void bay__reply_orphan_locked(bay_conn *c);

/* dispatch.c */

/* bay__dispatch_frame takes a CALL, NOTICE or CANCEL from the receiver thread. */
void bay__dispatch_frame(bay_conn *c, const bay__frame *f);

/* bay__dispatch_stop ends the dispatch thread (after its running job) and joins it. */
void bay__dispatch_stop(bay_conn *c);

/* bay__dispatch_free frees the queued jobs and the providers. */
void bay__dispatch_free(bay_conn *c);

#endif
