/* client/reply.c — answering the broker's calls to this host's providers: at once, as a bay_handler returns
 * (dispatch.c), or later and from any thread, through a bay_provide_async handler's bay_reply. */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An unanswered call of a bay_provide_async provider. It sits in its
 * connection's list (under conn->mu) and counts as one of its handles, so the
 * connection's struct outlives bay_close until the reply is answered. */
struct bay_reply {
    bay_conn *conn;
    uint64_t id;        /* the broker's CALL id */
    atomic_int stopped; /* 0, or why the caller stopped waiting */
    bay_reply *next;
    char name[];        /* the extension point, for messages */
};

int bay__answer_call(bay_conn *c, uint64_t id, const char *name, int rc, const bay_value *result, bay_error *e)
{
    if (rc == 0) {
        bay__frame r = {.type = BAY_F_RESULT, .id = id};
        void *packed = NULL;
        if (result && (rc = bay_value_pack(result, &packed, &r.raw_len)) != 0)
            bay_error_set(e, rc, NULL, "cannot pack the result of \"%s\": %s", name, bay_strerror(rc));
        r.raw = packed;
        char what[160];
        snprintf(what, sizeof what, "the result of \"%s\"", name);
        if (rc == 0)
            rc = bay__conn_send(c, &r, 0, what, e);
        free(packed);
        if (rc == 0)
            return 0;
    } else if (e->message[0] == '\0') {
        bay_error_set(e, rc, NULL, "the handler of \"%s\" failed: %s", name, bay_strerror(rc));
    }
    bay__frame f = {.type = BAY_F_ERROR, .id = id, .code = rc > 0 ? rc : BAY_EPLUGIN, .plugin = c->self,
                    .message = e->message};
    bay_error sent;
    return bay__conn_send(c, &f, 0, "an error answer", &sent);
}

bay_reply *bay__reply_new(bay_conn *c, uint64_t id, const char *name)
{
    size_t n = strlen(name) + 1;
    bay_reply *r = malloc(sizeof *r + n);
    if (r == NULL)
        return NULL;
    r->conn = c;
    r->id = id;
    atomic_init(&r->stopped, 0);
    memcpy(r->name, name, n);
    pthread_mutex_lock(&c->mu);
    if (c->down)
        atomic_store(&r->stopped, BAY_ECANCELED);
    r->next = c->replies;
    c->replies = r;
    c->handles++;
    pthread_mutex_unlock(&c->mu);
    return r;
}

bool bay__reply_cancel(bay_conn *c, uint64_t id, int code)
{
    pthread_mutex_lock(&c->mu);
    bay_reply *r = c->replies;
    while (r && r->id != id)
        r = r->next;
    if (r)
        atomic_store(&r->stopped, code == BAY_ETIMEDOUT ? BAY_ETIMEDOUT : BAY_ECANCELED);
    pthread_mutex_unlock(&c->mu);
    return r != NULL;
}

void bay__reply_orphan_locked(bay_conn *c)
{
    for (bay_reply *r = c->replies; r; r = r->next)
        atomic_store(&r->stopped, BAY_ECANCELED);
}

/* finish takes r out of its connection's list and frees it; true when the
 * connection was still up, so that an answer can go. The last handle of a
 * closed connection frees its struct. */
static bool finish(bay_reply *r, bool *last)
{
    bay_conn *c = r->conn;
    pthread_mutex_lock(&c->mu);
    for (bay_reply **rr = &c->replies; *rr; rr = &(*rr)->next)
        if (*rr == r) {
            *rr = r->next;
            break;
        }
    bool up = c->down == NULL;
    *last = --c->handles == 0 && c->orphaned;
    pthread_mutex_unlock(&c->mu);
    return up;
}

/* answer sends r's answer (code 0: value) while its connection is up, then frees r. */
static int answer(bay_reply *r, int code, const bay_value *value, bay_error *e)
{
    bay_conn *c = r->conn;
    bay__conn_enter(c); /* bay_close waits for this send before it frees the providers' state */
    bool last;
    pthread_mutex_lock(&c->mu);
    bool up = c->down == NULL;
    pthread_mutex_unlock(&c->mu);
    int rc = up ? bay__answer_call(c, r->id, r->name, code, value, e) : BAY_ECONN;
    bay__conn_leave(c);
    if (!finish(r, &last) && rc == 0)
        rc = BAY_ECONN;
    free(r);
    if (last)
        c->destroy(c);
    return rc;
}

int bay_reply_value(bay_reply *reply, bay_value *value)
{
    if (reply == NULL) {
        bay_value_free(value);
        return BAY_EINVAL;
    }
    bay_error e = {0};
    int rc = answer(reply, 0, value, &e);
    bay_value_free(value);
    return rc;
}

int bay_reply_error(bay_reply *reply, int code, const char *fmt, ...)
{
    if (reply == NULL)
        return BAY_EINVAL;
    bay_error e = {0};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt ? fmt : "", ap);
    va_end(ap);
    return answer(reply, code > 0 ? code : BAY_EPLUGIN, NULL, &e);
}

int bay_reply_cancelled(const bay_reply *reply)
{
    return reply ? atomic_load(&reply->stopped) : BAY_EINVAL;
}
