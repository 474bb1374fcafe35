/* bridges/common/io.c — the worker's I/O thread (heartbeats, cancels) and the job queue it fills. */
#include "fastpath.h"
#include "io.h"
#include "refusals.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "callstat.h"
#include "value_convert.h"
#include "wire.h"

static pthread_t io_thread;

/* The calls the main thread answered on fast channels since the last report
 * (bay__io_report_fast_calls); under bay__w.lock, which bay__job_done takes anyway. */
static bay__callstat fast_calls;

static void job_free(bay__job *j)
{
    bay__frame_release(&j->f);
    nng_msg_free(j->msg);
    free(j);
}

static bool is_reply(const bay__job *j)
{
    return j->f.type == BAY_F_RESULT || j->f.type == BAY_F_ERROR;
}

/* Predicates for unlink_first; arg is what they compare against. */
static bool match_top(const bay__job *j, const void *arg)
{
    return j->f.type == BAY_F_CALL || j->f.type == BAY_F_COMMAND;
}

static bool match_nested(const bay__job *j, const void *arg)
{
    return j->f.type == BAY_F_CALL || (is_reply(j) && j->f.id == ((const bay__wait *)arg)->id);
}

static bool match_reply(const bay__job *j, const void *arg)
{
    return is_reply(j) && j->f.id == *(const uint64_t *)arg;
}

static bool match_call(const bay__job *j, const void *arg)
{
    const bay_invocation *c = arg; /* the id and channel to match */
    return j->f.type == BAY_F_CALL && j->f.id == c->id && j->call.chan == c->chan;
}

/* unlink_first removes and returns the oldest queued job matching, or NULL. Lock held. */
static bay__job *unlink_first(bool (*match)(const bay__job *, const void *), const void *arg)
{
    bay__job *prev = NULL;
    for (bay__job *j = bay__w.head; j; prev = j, j = j->next) {
        if (!match(j, arg))
            continue;
        *(prev ? &prev->next : &bay__w.head) = j->next;
        if (bay__w.tail == j)
            bay__w.tail = prev;
        j->next = NULL;
        return j;
    }
    return NULL;
}

/* expected returns true when the main thread waits for the reply to id. Lock held. */
static bool expected(uint64_t id)
{
    for (const bay__wait *w = bay__w.waits; w; w = w->outer)
        if (w->id == id)
            return true;
    return false;
}

/* enqueue queues j for the main thread, or frees it when it is a reply nobody
 * waits for any more (its bay_plugin_call gave up). */
static void enqueue(bay__job *j)
{
    pthread_mutex_lock(&bay__w.lock);
    bool keep = !is_reply(j) || expected(j->f.id);
    if (keep) {
        *(bay__w.tail ? &bay__w.tail->next : &bay__w.head) = j;
        bay__w.tail = j;
        bay__bell_ring(&bay__w.bell);
    }
    pthread_mutex_unlock(&bay__w.lock);
    if (!keep) {
        bay__worker_warn("dropping a late %s for call %llu", bay__frame_type_name(j->f.type),
                        (unsigned long long)j->f.id);
        job_free(j);
    }
}

/* queue_cancel is bay__w.cancel (send.h), and how the I/O thread takes the broker's CANCEL. */
static bool queue_cancel(bay__chan *from, uint64_t id, int64_t code)
{
    int why = code == BAY_ETIMEDOUT ? BAY_ETIMEDOUT : BAY_ECANCELED;
    bool in_hand = false;
    bay_invocation which = {.id = id, .chan = from};
    pthread_mutex_lock(&bay__w.lock);
    bay__job *queued = unlink_first(match_call, &which);
    for (bay_invocation *c = bay__w.calls; c && !queued; c = c->outer)
        if ((c->id == id || id == BAY_CALLS_ALL) && c->chan == from) {
            atomic_store(&c->stop, why);
            in_hand = true;
        }
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
    if (in_hand && bay__w.bridge->interrupt)
        bay__w.bridge->interrupt();
    if (queued) {
        bay__worker_error(from, id, BAY_ECANCELED, "call \"%s\" was cancelled before it started", queued->f.name);
        job_free(queued);
    }
    return in_hand || queued;
}

/* queue_credit takes the broker's CREDIT of count more chunks for the stream
 * of call id, in hand or still queued; a CREDIT for no such call is dropped. */
static void queue_credit(uint64_t id, int64_t count)
{
    if (count <= 0)
        return;
    pthread_mutex_lock(&bay__w.lock);
    bool found = false;
    for (bay_invocation *c = bay__w.calls; c && !found; c = c->outer)
        if (c->id == id && c->chan == NULL) {
            atomic_fetch_add(&c->credit, count);
            found = true;
        }
    for (bay__job *j = bay__w.head; j && !found; j = j->next)
        if (j->f.type == BAY_F_CALL && j->f.id == id && j->call.chan == NULL) {
            j->f.window += count;
            found = true;
        }
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
}

/* queue_input takes the broker's CHUNK of a call's input (end: its END) for
 * the call in hand it belongs to; one for no such call is dropped. */
static void queue_input(bay__job *j, bool end)
{
    bay_value *v = NULL;
    if (!end && (j->f.value ? bay__value_from_object(j->f.value, &v, NULL) : (v = bay_nil()) ? 0 : BAY_ENOMEM) != 0)
        return; /* out of memory: the provider's wait ends at its deadline */
    bay__input *in = end ? NULL : malloc(sizeof *in);
    pthread_mutex_lock(&bay__w.lock);
    bay_invocation *c = bay__w.calls;
    while (c && (c->id != j->f.id || c->chan != NULL || !c->input))
        c = c->outer;
    bay__job *queued = NULL; /* its END may come before the main thread took the call: no credit is needed for it */
    for (bay__job *q = bay__w.head; end && c == NULL && q && queued == NULL; q = q->next)
        if (q->f.type == BAY_F_CALL && q->f.id == j->f.id && q->call.chan == NULL && q->f.input)
            queued = q;
    if (queued) {
        queued->call.input_ended = true;
    } else if (c && end) {
        c->input_ended = true;
    } else if (c && in) {
        *in = (bay__input){NULL, v};
        if (c->inbox_tail)
            c->inbox_tail->next = in;
        else
            c->inbox = in;
        c->inbox_tail = in;
        in = NULL;
        v = NULL;
    }
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
    free(in);
    bay_value_free(v);
}

/* report_refusals tells plugbayd what the sandbox refused since the last heartbeat (refusals.h). */
static void report_refusals(void)
{
    bay_value *counts = bay__refusals_take();
    if (counts == NULL)
        return;
    int rc = bay__worker_tell("refused", counts);
    if (rc)
        bay__worker_warn("could not report what the sandbox refused: %s", bay_strerror(rc));
    bay_value_free(counts);
}

void bay__io_report_fast_calls(void)
{
    pthread_mutex_lock(&bay__w.lock);
    bay__callstat s = fast_calls;
    fast_calls = (bay__callstat){0};
    pthread_mutex_unlock(&bay__w.lock);
    if (s.calls == 0)
        return;
    bay_value *v = bay__callstat_value(&s);
    int rc = v ? bay__worker_tell("fastcalls", v) : BAY_ENOMEM;
    bay_value_free(v);
    if (rc == 0)
        return;
    bay__worker_warn("could not report %llu fast calls (they go with the next report): %s", (unsigned long long)s.calls,
                    bay_strerror(rc));
    pthread_mutex_lock(&bay__w.lock);
    bay__callstat_merge(&fast_calls, &s);
    pthread_mutex_unlock(&bay__w.lock);
}

static void answer_heartbeat(uint64_t id)
{
    int64_t since = atomic_load(&bay__w.busy_since_ns);
    bay__frame hb = {.type = BAY_F_HEARTBEAT, .id = id, .busy_ms = since ? (bay__now_ns() - since) / 1000000 : 0};
    int rc = bay__wire_send(bay__w.sock, &hb, NNG_FLAG_NONBLOCK);
    if (rc)
        bay__worker_warn("could not answer HEARTBEAT %llu: %s", (unsigned long long)id, bay_strerror(rc));
    report_refusals();
    bay__io_report_fast_calls();
}

/* route handles one decoded frame j on the I/O thread, taking ownership of it. */
static void route(bay__job *j)
{
    switch (j->f.type) {
    case BAY_F_HEARTBEAT:
        answer_heartbeat(j->f.id);
        bay__fast_check_hung();
        break;
    case BAY_F_CANCEL:
        queue_cancel(NULL, j->f.id, j->f.code);
        break;
    case BAY_F_CREDIT:
        queue_credit(j->f.id, j->f.count);
        break;
    case BAY_F_CHUNK:
    case BAY_F_END:
        queue_input(j, j->f.type == BAY_F_END);
        break;
    case BAY_F_COMMAND:
        if (bay__fast_command(&j->f)) /* the fast path's commands; load and unload go to the main thread */
            break;
        /* fall through */
    case BAY_F_CALL:
    case BAY_F_RESULT:
    case BAY_F_ERROR:
        enqueue(j);
        return;
    default:
        bay__worker_error(NULL, j->f.id, BAY_EPROTO, "a worker does not accept %s frames (it takes COMMAND, CALL, CANCEL, "
                                              "CREDIT, CHUNK, END, HEARTBEAT, and RESULT or ERROR answering its own calls)",
                         bay__frame_type_name(j->f.type));
        break;
    }
    job_free(j);
}

static void *io_main(void *arg)
{
    for (;;) {
        nng_msg *m;
        int rv = bay__wire_recvmsg(bay__w.sock, &m);
        if (rv == NNG_ECLOSED)
            return NULL;
        if (rv) {
            bay__worker_warn("receiving from plugbayd: %s", nng_strerror(rv));
            continue;
        }
        bay__job *j = calloc(1, sizeof *j);
        if (j == NULL) {
            bay__worker_warn("out of memory; dropping a frame of %zu bytes", nng_msg_len(m));
            nng_msg_free(m);
            continue;
        }
        bay_error e;
        int rc = bay__frame_decode(nng_msg_body(m), nng_msg_len(m), &j->f, &e);
        if (rc) {
            bay__wire_send_error(bay__w.sock, j->f.id, rc, NULL, "%s", e.message);
            nng_msg_free(m);
            free(j);
            continue;
        }
        j->msg = m;
        j->received_ns = bay__now_ns();
        route(j);
    }
}

/* on_pipe_removed runs on an NNG thread when the broker's side goes away. */
static void on_pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    pthread_mutex_lock(&bay__w.lock);
    bool closing = bay__w.closing;
    bay__w.disconnected = true;
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
    if (!closing) {
        bay__worker_warn("plugbayd closed the connection; exiting");
        _exit(1);
    }
}

int bay__io_start(void)
{
    int rv = nng_pipe_notify(bay__w.sock, NNG_PIPE_EV_REM_POST, on_pipe_removed, NULL);
    if (rv)
        return rv == NNG_ENOMEM ? ENOMEM : EINVAL;
    bay__w.cancel = queue_cancel;
    return pthread_create(&io_thread, NULL, io_main, NULL);
}

void bay__io_expect_close(void)
{
    pthread_mutex_lock(&bay__w.lock);
    bay__w.closing = true;
    pthread_mutex_unlock(&bay__w.lock);
}

/* is_disconnected tells whether the broker closed the connection. */
static bool is_disconnected(void *arg)
{
    pthread_mutex_lock(&bay__w.lock);
    bool gone = bay__w.disconnected;
    pthread_mutex_unlock(&bay__w.lock);
    return gone;
}

void bay__io_stop(int linger_ms)
{
    bay__io_expect_close();
    bay__bell *bell = &bay__w.bell;
    bay__ring_wait w = {.until_ns = bay__now_ns() + (int64_t)linger_ms * 1000000};
    bay__wait_for(is_disconnected, NULL, &bell, 1, &w);
    nng_close(bay__w.sock);
    pthread_join(io_thread, NULL);
    pthread_mutex_lock(&bay__w.lock);
    for (bay__job *j; (j = bay__w.head) != NULL;) {
        bay__w.head = j->next;
        job_free(j);
    }
    bay__w.tail = NULL;
    pthread_mutex_unlock(&bay__w.lock);
}

/* wake_at returns the earlier of until_ns and watch's deadline (0 = none). */
static int64_t wake_at(const bay_invocation *watch, int64_t until_ns)
{
    int64_t d = watch ? watch->deadline_ns : 0;
    if (d == 0 || (until_ns != 0 && until_ns < d))
        return until_ns;
    return d;
}

bay__job *bay__queue_take(const bay__wait *wait, const bay_invocation *watch, int64_t until_ns)
{
    bay__job *j;
    pthread_mutex_lock(&bay__w.lock);
    while ((j = unlink_first(wait ? match_nested : match_top, wait)) == NULL) {
        if ((watch && bay__call_stop_code(watch)) || (until_ns && bay__now_ns() >= until_ns))
            break;
        /* Jobs queued from here on move the bell: the sleep below cannot miss them. */
        uint32_t seen = atomic_load(&bay__w.bell.seq);
        pthread_mutex_unlock(&bay__w.lock);
        j = bay__fast_take(); /* a CALL from a host's fast channel fits every wait */
        if (j == NULL)
            bay__fast_sleep(seen, wake_at(watch, until_ns));
        pthread_mutex_lock(&bay__w.lock);
        if (j)
            break;
    }
    if (j && j->f.type == BAY_F_CALL) {
        j->call.id = j->f.id;
        j->call.stream = j->f.window > 0;
        j->call.input = j->f.input != 0;
        atomic_init(&j->call.credit, j->f.window);
        atomic_init(&j->call.stop, j->call.chan && bay__fast_cancelled(j->call.chan, j->f.id) ? BAY_ECANCELED : 0);
        j->call.outer = bay__w.calls;
        bay__w.calls = &j->call;
        bay__w.depth++;
    }
    pthread_mutex_unlock(&bay__w.lock);
    return j;
}

void bay__job_done(bay__job *j)
{
    if (j->f.type == BAY_F_CALL) {
        int64_t now = j->call.chan ? bay__now_ns() : 0;
        pthread_mutex_lock(&bay__w.lock);
        if (j->call.chan) /* plugbayd counts the calls it routed itself */
            bay__callstat_add(&fast_calls, j->answered, (double)(now - j->received_ns) / 1000);
        bay__w.calls = j->call.outer;
        bay__w.depth--;
        pthread_mutex_unlock(&bay__w.lock);
        bay__fast_release(j->call.chan);
    }
    job_free(j);
}

void bay__queue_expect(bay__wait *w, uint64_t id)
{
    pthread_mutex_lock(&bay__w.lock);
    w->id = id;
    w->outer = bay__w.waits;
    bay__w.waits = w;
    pthread_mutex_unlock(&bay__w.lock);
}

void bay__queue_forget(bay__wait *w)
{
    pthread_mutex_lock(&bay__w.lock);
    bay__w.waits = w->outer;
    bay__job *late = unlink_first(match_reply, &w->id);
    pthread_mutex_unlock(&bay__w.lock);
    if (late)
        job_free(late);
}
