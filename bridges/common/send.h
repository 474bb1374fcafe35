/* bridges/common/send.h — the worker's state (the calls in hand, the job queue) and how it answers: the bottom of the worker library; not for bridges. */
#ifndef BAY_WORKER_SEND_H
#define BAY_WORKER_SEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <nng/nng.h>

#include "clock.h"
#include "frame.h"
#include "ring.h"
#include "worker.h"

/* Calls may nest this deep in one worker (a plugin waiting in bay_plugin_call
 * serves the calls that arrive meanwhile). */
#define BAY_CALL_NESTING_MAX 8

/* Deadline of bay_plugin_call outside a call, or inside one without a deadline. */
#define BAY_CALL_DEFAULT_TIMEOUT_MS 5000

/* The id of a cancel that means every call in hand from one peer (its host went away). */
#define BAY_CALLS_ALL UINT64_MAX

/* A host's fast channel to this worker (fastpath.c). */
typedef struct bay__chan bay__chan;

/* One call in the worker's hands, from the moment the main thread takes it
 * from the queue until it is answered. */
struct bay_invocation {
    uint64_t id;                      /* the broker's id for the call */
    const char *name;                 /* extension point ("greet", "timer:tick"); borrowed from the frame */
    const char *function;             /* plugin function serving it */
    const char *context;              /* NULL when none */
    int64_t deadline_ns;              /* CLOCK_MONOTONIC; 0 = no deadline */
    atomic_int stop;                  /* set by the I/O thread on CANCEL: 0, BAY_ECANCELED or BAY_ETIMEDOUT */
    int code;                         /* recorded by bay_call_error; 0 = nothing recorded */
    char message[512];
    struct bay_invocation *outer;           /* the call this one runs inside, or NULL */
    bay__chan *chan;                   /* the fast channel it came on and is answered on; NULL: the broker */
    bool stream;                      /* its caller reads the answer as a stream: each chunk goes out as emitted */
    atomic_llong credit;              /* the chunks the caller takes now (CALL's window; the I/O thread adds CREDITs) */
    bay_value *gathered;              /* a caller not reading a stream: the chunks emitted so far (an array), or NULL */
    size_t gathered_bytes;            /* their packed size */
    bool input;                       /* its caller sends input: CHUNKs, then END (CALL's input) */
    struct bay__input *inbox, *inbox_tail; /* the input received and not taken (the I/O thread adds; under lock) */
    bool input_ended;                 /* its END came (under lock) */
    int input_taken;                  /* chunks taken since the last CREDIT went back */
};

/* One chunk of a call's input, received and not yet taken. */
typedef struct bay__input {
    struct bay__input *next;
    bay_value *value;
} bay__input;

/* The input chunks a call takes before its first CREDIT goes back: its
 * window; a CREDIT goes back for every half of it taken. */
#define BAY_INPUT_WINDOW 64

/* One frame the I/O thread received and queued for the main thread. */
typedef struct bay__job {
    struct bay__job *next;
    nng_msg *msg;        /* holds the bytes f.value points into */
    bay__frame f;
    int64_t received_ns; /* CLOCK_MONOTONIC */
    bay_invocation call;       /* for a CALL frame, once taken */
    int answered;        /* for a CALL, once run: the code it was answered with (0: a RESULT) */
} bay__job;

/* A reply (RESULT or ERROR) the main thread waits for in bay_plugin_call. */
typedef struct bay__wait {
    uint64_t id;
    struct bay__wait *outer;
} bay__wait;

/* The one worker of this process. */
typedef struct bay__worker {
    const bay__bridge *bridge;
    nng_socket sock;
    const char *id;          /* PLUGBAY_PLUGIN */
    pid_t pid;               /* this worker's pid as plugbayd and hosts know it (1 is its own, in its PID namespace) */
    bay_value *load_args;    /* the COMMAND load map; info and functions point into it */
    bay__plugin_info info;
    const bay_value *functions; /* map: call name -> function name */
    bay_value *settings;     /* the plugin's settings (a map), from COMMAND load, then from each hook:settings */
    bay_value *timers;       /* map: "timer:NAME" -> function, of the timers the plugin set at run time */
    bay_value *pending_timers; /* array of timer.set args asked during load, sent once the load answered */
    bool loaded;
    uint64_t next_call_id;   /* ids of the CALLs this worker sends; main thread only */
    atomic_llong busy_since_ns; /* when the main thread started its current job; 0 = idle */

    /* What a file below tells a file above without naming it: each is set
     * once at start, before any thread that calls it runs, and never changes. */
    /* fast_send writes frame f (value given packed in raw) to the host of fast
     * channel ch and returns 0, BAY_EINVAL or BAY_ECONN (a host that does not
     * read in time loses its channel). A chunk of stream (not NULL) waits for
     * room as long as that call may run instead, and returns its stop code
     * when it is stopped first. fastpath.c sets it when it starts its
     * channels; no answer goes to a channel before, so it is never called NULL. */
    int (*fast_send)(bay__chan *ch, const bay__frame *f, const bay_invocation *stream);
    /* cancel handles CANCEL id, whose code says why (BAY_ETIMEDOUT: the
     * call's deadline passed; any other: it was cancelled), from the broker
     * (from NULL) or from fast channel from: a queued call is answered at once
     * and dropped, a call in hand is flagged for bay_call_cancelled() and the
     * bridge's interrupt runs. id BAY_CALLS_ALL cancels every call in hand from
     * `from`. Returns false when no such call is queued or in hand. io.c sets
     * it before it starts the I/O thread; fastpath.c calls it for its hosts. */
    bool (*cancel)(bay__chan *from, uint64_t id, int64_t code);

    bay__bell bell;           /* rung when a job was queued, a call cancelled, a fast channel came or
                              * went, or the connection closed: the main thread sleeps on it */
    pthread_mutex_t lock;    /* guards everything below */
    bay__job *head, *tail;    /* jobs waiting for the main thread, oldest first */
    bay_invocation *calls;         /* innermost call in hand; ->outer links the nesting */
    int depth;               /* how many calls are in hand */
    bay__wait *waits;         /* replies awaited, innermost first */
    bool closing;            /* the worker is shutting down: a closed connection is expected */
    bool disconnected;       /* the broker closed the connection while closing */
    char last_error_log[256]; /* latest BAY_LOG_ERROR line of the plugin, cleared before each load */
} bay__worker;

extern bay__worker bay__w;

/* bay__worker_warn writes one line naming the worker and plugin to stderr. */
void bay__worker_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bay__worker_send sends f to the broker (to NULL) or to the host of fast
 * channel to, first packing v (when not NULL) as the frame's value. Returns 0,
 * BAY_EINVAL when v does not fit in a frame, or another code. */
int bay__worker_send(bay__chan *to, bay__frame *f, const bay_value *v);

/* bay__worker_send_chunk sends CHUNK f with value v of call's answer stream to
 * its caller: on a fast channel it waits for room in the ring as long as the
 * call may run (the ring is its back-pressure), and returns the call's stop
 * code when it is stopped meanwhile. Returns as bay__worker_send. */
int bay__worker_send_chunk(const bay_invocation *call, bay__frame *f, const bay_value *v);

/* bay__worker_tell sends plugbayd COMMAND name with args (a map), which it
 * does not answer, without waiting: for the I/O thread's reports, which must
 * never block it. Returns 0 or the code bay__worker_send would. */
int bay__worker_tell(const char *name, const bay_value *args);

/* bay__plugin_command sends plugbayd COMMAND name with args (borrowed; NULL:
 * none) for plugin.h's function api, serving calls that arrive meanwhile,
 * and waits for its answer: 0 with *result (the caller frees it; NULL: not
 * wanted), or the code with err. */
int bay__plugin_command(const char *api, const char *name, const bay_value *args, bay_value **result, bay_error *err);

/* bay__worker_error answers request id of the broker (to NULL) or of fast
 * channel to with an ERROR naming this plugin. Returns code. */
int bay__worker_error(bay__chan *to, uint64_t id, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* bay__worker_result answers request id (of the broker or of fast channel to)
 * with RESULT v (NULL = nil). Returns 0, or BAY_EINVAL when v did not fit in a
 * frame and an ERROR BAY_EINVAL answered instead. */
int bay__worker_result(bay__chan *to, uint64_t id, const bay_value *v);

/* bay__call_stop_code returns BAY_ETIMEDOUT once c's deadline passed, else
 * why it was cancelled (BAY_ECANCELED, or BAY_ETIMEDOUT when plugbayd or the
 * host cancelled it at their deadline, which comes a little before the
 * worker's own), else 0. */
int bay__call_stop_code(const bay_invocation *c);

#endif
