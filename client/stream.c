/* client/stream.c — a call's streams: reading its answer (the chunks queued as they arrive, credit given back as
 * they are taken, the end), sending its input within the provider's credit, and abandoning a stream. */
#include "client.h"
#include "fastpath.h"

#include <stdlib.h>
#include <time.h>

#include "value_convert.h"

/* A CREDIT goes back once the reader took this many chunks: half the window,
 * so that the provider always has room for the other half meanwhile. */
#define CREDIT_EVERY (BAY_STREAM_WINDOW / 2)

void bay__conn_chunk(bay_conn *c, const bay__frame *f)
{
    bay_value *v = NULL;
    int rc = f->value ? bay__value_from_object(f->value, &v, NULL) : (v = bay_nil()) ? 0 : BAY_ENOMEM;
    pthread_mutex_lock(&c->mu);
    bay_pending *p = bay__pending_find_locked(c, f->id);
    if (p && p->stream && rc == 0)
        bay__chunk_push_locked(p, v);
    else
        bay_value_free(v);
    pthread_mutex_unlock(&c->mu);
}

void bay__conn_credit(bay_conn *c, const bay__frame *f)
{
    pthread_mutex_lock(&c->mu);
    bay_pending *p = bay__pending_find_locked(c, f->id);
    if (p && p->input && f->count > 0 && f->count <= INT32_MAX) {
        p->input_credit += f->count;
        pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&c->mu);
}

/* send_via_broker sends f, a CHUNK of s's input, to plugbayd once the provider gives credit for it, waiting up
 * to wait_ms (-1: the call's deadline). */
static int send_via_broker(bay_stream *s, const bay__frame *f, int wait_ms, bay_error *err)
{
    bay_pending *p = s->p;
    bay_conn *c = p->conn;
    int64_t until = wait_ms < 0 ? p->deadline : bay__now_ms() + wait_ms;
    int rc = 0;
    bool cancel = false;
    pthread_mutex_lock(&c->mu);
    while (p->input_credit <= 0 && !p->done && rc == 0) {
        int64_t now = bay__now_ms();
        if (bay__pending_expire_locked(p)) { /* the call's deadline: it ends, as bay_stream_next would end it */
            cancel = true;
            break;
        }
        if (now >= until) {
            rc = bay_error_set(err, BAY_EPENDING, NULL, "%s took no more input within %d ms (it has not taken the "
                               "chunks before); try again", p->what, wait_ms);
            break;
        }
        int64_t wake = until < p->deadline ? until : p->deadline;
        struct timespec ts = {.tv_sec = wake / 1000, .tv_nsec = (long)(wake % 1000) * 1000000};
        pthread_cond_timedwait(&p->done_cv, &c->mu, &ts);
    }
    if (rc == 0 && p->done)
        rc = bay_error_set(err, BAY_ESTATE, NULL, "%s ended before its input did%s%s",
                           p->what, p->err.code ? ": " : "", p->err.code ? p->err.message : "");
    if (rc == 0)
        p->input_credit--;
    pthread_mutex_unlock(&c->mu);
    if (cancel)
        bay__send_cancel(c, p->id);
    return rc ? rc : bay__conn_send(c, f, 0, "a chunk of input", err);
}

int bay_stream_send(bay_stream *s, const bay_value *chunk, int wait_ms, bay_error *err)
{
    if (s == NULL || chunk == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_stream_send: needs a stream and a chunk");
    if (!s->input || s->input_ended)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_stream_send: %s %s", s->what,
                             s->input ? "had its input ended (bay_stream_send_end)" : "takes no input: start it with "
                             "bay_call_upload");
    bay__scratch sb;
    bay__scratch_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, bay__scratch_write);
    bay__frame f = {.type = BAY_F_CHUNK, .id = s->p ? s->p->id : 0};
    int rc = bay__value_pack_to(&pk, chunk);
    if (rc)
        rc = bay_error_set(err, rc, NULL, "bay_stream_send: cannot pack the chunk: %s", bay_strerror(rc));
    else {
        f.raw = sb.data;
        f.raw_len = sb.size;
        rc = s->fast ? bay__fast_stream_send(s->fast, &f, wait_ms, err) : send_via_broker(s, &f, wait_ms, err);
    }
    bay__scratch_free(&sb);
    return rc;
}

int bay_stream_send_end(bay_stream *s, bay_error *err)
{
    if (s == NULL || !s->input || s->input_ended)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_stream_send_end: %s", s == NULL ? "the stream is NULL"
                             : s->input_ended ? "its input already ended" : "it takes no input");
    bay__frame f = {.type = BAY_F_END, .id = s->p ? s->p->id : 0};
    int rc = s->fast ? bay__fast_stream_send(s->fast, &f, -1, err)
                     : bay__conn_send(s->p->conn, &f, 0, "the end of input", err);
    s->input_ended = rc == 0;
    return rc;
}

/* give_credit tells plugbayd that s's reader took its chunks since the last CREDIT. */
static void give_credit(bay_stream *s)
{
    bay__frame f = {.type = BAY_F_CREDIT, .id = s->p->id, .count = s->taken};
    if (bay__conn_send(s->p->conn, &f, 0, "credit", NULL) == 0)
        s->taken = 0;
}

int bay_stream_next(bay_stream *s, int wait_ms, bay_value **chunk, bay_error *err)
{
    if (chunk)
        *chunk = NULL;
    if (s == NULL || chunk == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_stream_next: needs a stream and somewhere to put the chunk");
    if (s->fast)
        return bay__fast_stream_next(s->fast, wait_ms, chunk, err);
    bay_pending *p = s->p;
    bay_conn *c = p->conn;
    int64_t until = wait_ms < 0 ? p->deadline : bay__now_ms() + wait_ms;
    bool cancel = false;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (p->chunks) {
            bay__chunk *k = p->chunks;
            if ((p->chunks = k->next) == NULL)
                p->chunks_tail = NULL;
            *chunk = k->value;
            free(k);
            s->taken++;
            break;
        }
        if (p->done) {
            p->taken = true;
            if ((rc = p->err.code) != 0 && err)
                *err = p->err;
            break;
        }
        if (bay__pending_expire_locked(p)) {
            cancel = true;
            continue; /* done now: its error next */
        }
        int64_t now = bay__now_ms();
        if (now >= until) {
            rc = bay_error_set(err, BAY_EPENDING, NULL, "no chunk of %s within %d ms; the stream goes on", p->what,
                               wait_ms);
            break;
        }
        int64_t wake = until < p->deadline ? until : p->deadline;
        struct timespec ts = {.tv_sec = wake / 1000, .tv_nsec = (long)(wake % 1000) * 1000000};
        pthread_cond_timedwait(&p->done_cv, &c->mu, &ts);
    }
    bool credit = *chunk && !p->done && s->taken >= CREDIT_EVERY;
    pthread_mutex_unlock(&c->mu);
    if (cancel)
        bay__send_cancel(c, p->id);
    if (credit)
        give_credit(s);
    return rc;
}

int bay_stream_cancel(bay_stream *s)
{
    if (s && s->fast) {
        bay__fast_stream_cancel(s->fast);
        return 0;
    }
    return s ? bay_pending_cancel(s->p) : BAY_EINVAL;
}

void bay_stream_free(bay_stream *s)
{
    if (s == NULL)
        return;
    if (s->fast)
        bay__fast_stream_free(s->fast);
    else
        bay_pending_free(s->p); /* cancels it when it still runs, and frees the chunks not taken */
    free(s);
}
