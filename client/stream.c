/* client/stream.c — reading a call's answer as a stream: the chunks queued as they arrive, credit given back as
 * they are taken, the end, and abandoning a stream. */
#include "client.h"

#include <stdlib.h>
#include <time.h>

#include "value_convert.h"

/* A CREDIT goes back once the reader took this many chunks: half the window,
 * so that the provider always has room for the other half meanwhile. */
#define CREDIT_EVERY (BAY_STREAM_WINDOW / 2)

void bay__chunk_push_locked(bay_pending *p, bay_value *v)
{
    bay__chunk *k = p->stream ? malloc(sizeof *k) : NULL;
    if (k == NULL) { /* out of memory: the stream ends with BAY_ENOMEM */
        if (p->stream && p->registered)
            bay_error_set(&p->err, BAY_ENOMEM, NULL, "out of memory queueing a chunk of %s", p->what);
        bay_value_free(v);
        return;
    }
    k->next = NULL;
    k->value = v;
    if (p->chunks_tail)
        p->chunks_tail->next = k;
    else
        p->chunks = k;
    p->chunks_tail = k;
    pthread_cond_broadcast(&p->done_cv);
}

void bay__chunks_free(bay_pending *p)
{
    for (bay__chunk *k = p->chunks, *next; k; k = next) {
        next = k->next;
        bay_value_free(k->value);
        free(k);
    }
    p->chunks = p->chunks_tail = NULL;
}

void bay__conn_chunk(bay_conn *c, const bay__frame *f)
{
    bay_value *v = NULL;
    int rc = f->value ? bay__value_from_object(f->value, &v, NULL) : (v = bay_nil()) ? 0 : BAY_ENOMEM;
    pthread_mutex_lock(&c->mu);
    bay_pending *p = c->table[f->id % BAY_PENDING_BUCKETS];
    while (p && p->id != f->id)
        p = p->next;
    if (p && p->stream && rc == 0)
        bay__chunk_push_locked(p, v);
    else
        bay_value_free(v);
    pthread_mutex_unlock(&c->mu);
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
    return s ? bay_pending_cancel(s->p) : BAY_EINVAL;
}

void bay_stream_free(bay_stream *s)
{
    if (s == NULL)
        return;
    bay_pending_free(s->p); /* cancels it when it still runs, and frees the chunks not taken */
    free(s);
}
