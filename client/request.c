/* client/request.c — requests to plugbayd: the pending table, sending, waiting, deadlines and cancel, and the
 * chunks a stream's request queues. */
#include "client.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "value_convert.h"
#include "wire.h"

void bay__conn_enter(bay_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->users++;
    pthread_mutex_unlock(&c->mu);
}

void bay__conn_leave(bay_conn *c)
{
    pthread_mutex_lock(&c->mu);
    if (--c->users == 0)
        pthread_cond_broadcast(&c->idle_cv);
    pthread_mutex_unlock(&c->mu);
}

void bay__conn_hold(bay_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->handles++;
    pthread_mutex_unlock(&c->mu);
}

void bay__conn_unhold(bay_conn *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = --c->handles == 0 && c->orphaned;
    pthread_mutex_unlock(&c->mu);
    if (last)
        c->destroy(c);
}

static bay_pending **bucket_of(bay_conn *c, uint64_t id)
{
    return &c->table[id % BAY_PENDING_BUCKETS];
}

bay_pending *bay__pending_find_locked(bay_conn *c, uint64_t id)
{
    bay_pending *p = *bucket_of(c, id);
    while (p && p->id != id)
        p = p->next;
    return p;
}

static void unregister_locked(bay_pending *p)
{
    for (bay_pending **pp = bucket_of(p->conn, p->id); *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    p->registered = false;
}

/* complete_locked takes p out of the table with its outcome (p->err and
 * result, which it takes) and wakes its waiter. */
static void complete_locked(bay_pending *p, bay_value *result)
{
    unregister_locked(p);
    p->result = result;
    p->done = true;
    pthread_cond_broadcast(&p->done_cv);
}

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

/* chunks_free frees p's chunks not taken. */
static void chunks_free(bay_pending *p)
{
    for (bay__chunk *k = p->chunks, *next; k; k = next) {
        next = k->next;
        bay_value_free(k->value);
        free(k);
    }
    p->chunks = p->chunks_tail = NULL;
}

void bay__conn_down_locked(bay_conn *c, const char *why)
{
    if (c->down == NULL)
        c->down = why;
    for (size_t i = 0; i < BAY_PENDING_BUCKETS; i++)
        while (c->table[i]) {
            bay_pending *p = c->table[i];
            bay_error_set(&p->err, BAY_ECONN, NULL, "connection to plugbayd at %s %s", c->url, c->down);
            complete_locked(p, NULL);
        }
}

int bay__conn_down_error(const bay_conn *c, bay_error *err)
{
    return bay_error_set(err, BAY_ECONN, NULL, "connection to plugbayd at %s %s; connect again with bay_connect",
                         c->url, c->down);
}

int bay__conn_send(bay_conn *c, const bay__frame *f, int flags, const char *what, bay_error *err)
{
    nng_msg *m;
    int rc = bay__wire_msg(f, &m);
    if (rc)
        return bay_error_set(err, rc, NULL, "cannot encode %s: %s", what, bay_strerror(rc));
    size_t len = nng_msg_len(m);
    if (len > BAY_FRAME_MAX) {
        nng_msg_free(m);
        return bay_error_set(err, BAY_EINVAL, NULL, "%s is %zu bytes, over plugbay's frame limit of %u bytes", what,
                             len, BAY_FRAME_MAX);
    }
    int rv = bay__wire_sendmsg(c->sock, m, flags);
    if (rv == 0)
        return 0;
    nng_msg_free(m);
    rc = rv == NNG_ETIMEDOUT || rv == NNG_EAGAIN ? BAY_EBUSY : bay__from_nng(rv);
    return bay_error_set(err, rc, NULL, "cannot send %s to plugbayd at %s: %s%s", what, c->url, nng_strerror(rv),
                         rc == BAY_EBUSY ? " (its queue stays full; retry later)" : "");
}

int bay__send_cancel(bay_conn *c, uint64_t id)
{
    bay__frame f = {.type = BAY_F_CANCEL, .id = id, .code = BAY_ECANCELED};
    return bay__conn_send(c, &f, NNG_FLAG_NONBLOCK, "cancel", NULL);
}

void bay__conn_answer(bay_conn *c, const bay__frame *f, int code, const char *why)
{
    bay_value *v = NULL;
    bay_error e;
    if (code == 0 && f->type == BAY_F_RESULT) {
        if (f->value) /* NULL: the result is nil */
            code = bay__value_from_object(f->value, &v, &e);
        else if ((v = bay_nil()) == NULL)
            code = bay__value_nomem(&e);
        why = e.message;
    }
    pthread_mutex_lock(&c->mu);
    bay_pending *p = bay__pending_find_locked(c, f->id);
    if (p && p->stream && code == 0 && v && bay_value_type(v) != BAY_NIL) { /* a stream's last chunk */
        bay__chunk_push_locked(p, v);
        v = NULL;
    }
    if (p) {
        if (code)
            bay_error_set(&p->err, code, NULL, "plugbayd at %s sent an unreadable answer to %s: %s", c->url, p->what,
                          why);
        else if (f->type == BAY_F_ERROR)
            bay_error_set(&p->err, f->code > 0 && f->code <= INT_MAX ? (int)f->code : BAY_EPROTO, f->plugin, "%s",
                          f->message);
        complete_locked(p, v);
        v = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    bay_value_free(v);
}

/* describe names f for messages: its type in lower case and its name, e.g. `call "greet"`. */
static void describe(char *out, size_t len, const bay__frame *f)
{
    char verb[16];
    const char *type = bay__frame_type_name(f->type);
    size_t i = 0;
    for (; type[i] && i < sizeof verb - 1; i++)
        verb[i] = (char)tolower((unsigned char)type[i]);
    verb[i] = '\0';
    if (f->name)
        snprintf(out, len, "%s \"%s\"", verb, f->name);
    else
        snprintf(out, len, "%s", verb);
}

/* start registers p for f (giving f its id) and sends f. */
static int start(bay_conn *c, bay_pending *p, bay__frame *f, int wait_ms, bool stream, bay_error *err)
{
    memset(p, 0, sizeof *p);
    p->conn = c;
    p->stream = stream;
    p->input = f->input != 0;
    p->id = f->id = atomic_fetch_add(&c->next_id, 1);
    describe(p->what, sizeof p->what, f);
    p->wait_ms = wait_ms;
    p->deadline = bay__now_ms() + wait_ms;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->done_cv, &attr);
    pthread_condattr_destroy(&attr);

    pthread_mutex_lock(&c->mu);
    int rc = c->down ? bay__conn_down_error(c, err) : 0;
    if (rc == 0) {
        bay_pending **b = bucket_of(c, p->id);
        p->next = *b;
        *b = p;
        p->registered = true;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && (rc = bay__conn_send(c, f, 0, p->what, err)) != 0) {
        pthread_mutex_lock(&c->mu);
        if (p->registered)
            unregister_locked(p);
        pthread_mutex_unlock(&c->mu);
    }
    if (rc)
        pthread_cond_destroy(&p->done_cv);
    return rc;
}

bool bay__pending_expire_locked(bay_pending *p)
{
    if (p->done || bay__now_ms() < p->deadline)
        return false;
    bay_error_set(&p->err, BAY_ETIMEDOUT, NULL,
                  "no answer from plugbayd at %s to %s within %d ms; is the broker overloaded or stuck?", p->conn->url,
                  p->what, p->wait_ms);
    complete_locked(p, NULL);
    return true;
}

/* wait_outcome waits up to wait_ms (-1: until p's deadline) for p's outcome
 * and hands it out; at the deadline p fails and the broker gets a CANCEL. */
static int wait_outcome(bay_pending *p, int wait_ms, bay_value **result, bay_error *err)
{
    bay_conn *c = p->conn;
    int64_t until = wait_ms < 0 ? p->deadline : bay__now_ms() + wait_ms;
    if (until > p->deadline)
        until = p->deadline;
    bool cancel = false;

    pthread_mutex_lock(&c->mu);
    if (p->taken) {
        pthread_mutex_unlock(&c->mu);
        return bay_error_set(err, BAY_EINVAL, NULL, "the outcome of %s was already returned", p->what);
    }
    while (!p->done) {
        int64_t now = bay__now_ms();
        if (bay__pending_expire_locked(p)) {
            cancel = true;
        } else if (now >= until) {
            pthread_mutex_unlock(&c->mu);
            return bay_error_set(err, BAY_EPENDING, NULL, "%s is still running after a wait of %d ms", p->what,
                                 wait_ms);
        } else {
            struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000};
            pthread_cond_timedwait(&p->done_cv, &c->mu, &ts);
        }
    }
    p->taken = true;
    int rc = p->err.code;
    if (rc && err)
        *err = p->err;
    if (result) { /* a failed request holds no result */
        *result = p->result;
        p->result = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (cancel)
        bay__send_cancel(c, p->id);
    return rc;
}

/* finish takes p out of the table (cancelling it if it still runs) and frees what it holds. */
static void finish(bay_pending *p)
{
    bay_conn *c = p->conn;
    pthread_mutex_lock(&c->mu);
    bool running = p->registered;
    if (running)
        unregister_locked(p);
    pthread_mutex_unlock(&c->mu);
    if (running)
        bay__send_cancel(c, p->id);
    bay_value_free(p->result);
    chunks_free(p);
    pthread_cond_destroy(&p->done_cv);
}

int bay__request(bay_conn *c, bay__frame *f, int wait_ms, bay_value **result, bay_error *err)
{
    bay_pending p;
    bay__conn_enter(c);
    int rc = start(c, &p, f, wait_ms, false, err);
    if (rc == 0) {
        rc = wait_outcome(&p, -1, result, err);
        finish(&p);
    }
    bay__conn_leave(c);
    return rc;
}

int bay__request_async(bay_conn *c, bay__frame *f, int wait_ms, bool stream, bay_pending **out, bay_error *err)
{
    bay_pending *p = malloc(sizeof *p);
    if (p == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory starting a call");
    bay__conn_enter(c);
    int rc = start(c, p, f, wait_ms, stream, err);
    if (rc == 0)
        bay__conn_hold(c);
    bay__conn_leave(c);
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int bay_pending_wait(bay_pending *p, int wait_ms, bay_value **result, bay_error *err)
{
    if (p == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_pending_wait: the pending call is NULL");
    return wait_outcome(p, wait_ms, result, err);
}

int bay_pending_cancel(bay_pending *p)
{
    if (p == NULL)
        return BAY_EINVAL;
    pthread_mutex_lock(&p->conn->mu);
    bool running = p->registered;
    pthread_mutex_unlock(&p->conn->mu);
    return running ? bay__send_cancel(p->conn, p->id) : 0;
}

void bay_pending_free(bay_pending *p)
{
    if (p == NULL)
        return;
    bay_conn *c = p->conn;
    finish(p);
    free(p);
    bay__conn_unhold(c);
}
