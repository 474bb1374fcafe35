/* client/dispatch.c — the host as a provider and subscriber: bay_provide, bay_provide_async, bay_subscribe and
 * the dispatch thread. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_convert.h"
#include "wire.h"

struct bay__provider {
    bay__provider *next;
    bay_handler fn;        /* one of fn (bay_provide) */
    bay_async_handler afn; /* and afn (bay_provide_async) */
    void *user;
    char name[];
};

/* The strings a job keeps: a CALL has J_NAME, a NOTICE all of them. */
enum { J_NAME, J_WHAT, J_PLUGIN, J_STATE, J_MESSAGE, J_NSTR };

struct bay__job {
    bay__job *next;
    int64_t type;     /* BAY_F_CALL or BAY_F_NOTICE */
    uint64_t id;
    bay_value *args;  /* a CALL's arguments */
    const char *s[J_NSTR];
    char text[];      /* the strings, one after the other */
};

static bay__job *job_new(const bay__frame *f)
{
    const char *src[J_NSTR] = {f->name, f->what, f->plugin, f->state, f->message};
    size_t len = 0;
    for (int i = 0; i < J_NSTR; i++)
        len += src[i] ? strlen(src[i]) + 1 : 0;
    bay__job *j = calloc(1, sizeof *j + len);
    if (j == NULL)
        return NULL;
    j->type = f->type;
    j->id = f->id;
    char *w = j->text;
    for (int i = 0; i < J_NSTR; i++)
        if (src[i]) {
            size_t n = strlen(src[i]) + 1;
            j->s[i] = memcpy(w, src[i], n);
            w += n;
        }
    return j;
}

static void job_free(bay__job *j)
{
    if (j)
        bay_value_free(j->args);
    free(j);
}

static bay__provider *find_provider_locked(bay_conn *c, const char *name)
{
    bay__provider *pv = c->providers;
    while (pv && strcmp(pv->name, name) != 0)
        pv = pv->next;
    return pv;
}

static void no_handler(bay_conn *c, uint64_t id, const char *name)
{
    bay_error e;
    bay__answer_call(c, id, name, bay_error_set(&e, BAY_ENOENT, NULL, "%s provides no \"%s\"", c->self, name), NULL,
                     &e);
}

/* serve runs the handler of a CALL: a bay_handler is answered as it returns,
 * a bay_async_handler later, through its reply. */
static void serve(bay_conn *c, const bay__job *j)
{
    const char *name = j->s[J_NAME];
    pthread_mutex_lock(&c->mu);
    bay__provider *pv = find_provider_locked(c, name);
    bay_handler fn = pv ? pv->fn : NULL;
    bay_async_handler afn = pv ? pv->afn : NULL;
    void *user = pv ? pv->user : NULL;
    pthread_mutex_unlock(&c->mu);
    bay_error e = {0};
    if (afn) {
        bay_reply *reply = bay__reply_new(c, j->id, name);
        if (reply)
            afn(j->args, reply, user);
        else
            bay__answer_call(c, j->id, name, bay_error_set(&e, BAY_ENOMEM, NULL, "%s is out of memory", c->self),
                             NULL, &e);
        return;
    }
    if (fn == NULL) {
        no_handler(c, j->id, name);
        return;
    }
    bay_value *result = NULL;
    int rc = fn(j->args, &result, &e, user);
    bay__answer_call(c, j->id, name, rc, result, &e);
    bay_value_free(result);
}

static void notify(bay_conn *c, const bay__job *j)
{
    pthread_mutex_lock(&c->mu);
    bay_notice_fn fn = c->notice_fn;
    void *user = c->notice_user;
    pthread_mutex_unlock(&c->mu);
    if (fn) {
        bay_notice n = {j->s[J_WHAT], j->s[J_NAME], j->s[J_PLUGIN], j->s[J_STATE], j->s[J_MESSAGE]};
        fn(&n, user);
    }
}

static void *dispatch_loop(void *arg)
{
    bay_conn *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        bay__job *j = c->jobs;
        if (j == NULL) {
            pthread_cond_wait(&c->job_cv, &c->mu);
            continue;
        }
        if ((c->jobs = j->next) == NULL)
            c->jobs_tail = NULL;
        pthread_mutex_unlock(&c->mu);
        if (j->type == BAY_F_CALL)
            serve(c, j);
        else
            notify(c, j);
        job_free(j);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int start_dispatcher_locked(bay_conn *c, bay_error *err)
{
    if (c->dispatching)
        return 0;
    if (c->down)
        return bay__conn_down_error(c, err);
    int rv = pthread_create(&c->dispatcher, NULL, dispatch_loop, c);
    if (rv)
        return bay_error_set(err, BAY_ENOMEM, NULL, "cannot start libplugbay's dispatch thread: %s", strerror(rv));
    c->dispatching = true;
    return 0;
}

/* enqueue hands j to the dispatch thread; false when there is none. */
static bool enqueue(bay_conn *c, bay__job *j)
{
    pthread_mutex_lock(&c->mu);
    bool ok = c->dispatching;
    if (ok) {
        if (c->jobs_tail)
            c->jobs_tail->next = j;
        else
            c->jobs = j;
        c->jobs_tail = j;
        pthread_cond_signal(&c->job_cv);
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

/* cancel_queued drops a CALL that has not started yet and answers it
 * BAY_ECANCELED; a running handler is left to finish and answer. */
static void cancel_queued(bay_conn *c, uint64_t id)
{
    bay__job *found = NULL;
    pthread_mutex_lock(&c->mu);
    for (bay__job **jj = &c->jobs, *prev = NULL; *jj; prev = *jj, jj = &(*jj)->next)
        if ((*jj)->type == BAY_F_CALL && (*jj)->id == id) {
            found = *jj;
            *jj = found->next;
            if (c->jobs_tail == found)
                c->jobs_tail = prev;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    if (found) {
        bay_error e;
        bay__answer_call(c, id, found->s[J_NAME],
                         bay_error_set(&e, BAY_ECANCELED, NULL, "call \"%s\" was cancelled before %s ran it",
                                       found->s[J_NAME], c->self),
                         NULL, &e);
        job_free(found);
    }
}

void bay__dispatch_frame(bay_conn *c, const bay__frame *f)
{
    if (f->type == BAY_F_CANCEL) {
        if (!bay__reply_cancel(c, f->id, (int)f->code))
            cancel_queued(c, f->id);
        return;
    }
    bay_error e;
    bay__job *j = job_new(f);
    int rc = j ? 0 : bay__value_nomem(&e);
    if (rc == 0 && f->type == BAY_F_CALL)
        rc = bay__value_from_object(f->value, &j->args, &e);
    if (rc == 0 && enqueue(c, j))
        return;
    job_free(j);
    if (f->type == BAY_F_CALL && rc)
        bay__wire_send_error(c->sock, f->id, rc, c->self, "%s cannot take call \"%s\": %s", c->self, f->name,
                             e.message);
    else if (f->type == BAY_F_CALL)
        no_handler(c, f->id, f->name);
}

void bay__dispatch_stop(bay_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    bool running = c->dispatching;
    pthread_cond_broadcast(&c->job_cv);
    pthread_mutex_unlock(&c->mu);
    if (running)
        pthread_join(c->dispatcher, NULL);
}

void bay__dispatch_free(bay_conn *c)
{
    while (c->jobs) {
        bay__job *j = c->jobs;
        c->jobs = j->next;
        job_free(j);
    }
    c->jobs_tail = NULL;
    while (c->providers) {
        bay__provider *pv = c->providers;
        c->providers = pv->next;
        free(pv);
    }
}

static void unlink_provider_locked(bay_conn *c, bay__provider *pv)
{
    for (bay__provider **pp = &c->providers; *pp; pp = &(*pp)->next)
        if (*pp == pv) {
            *pp = pv->next;
            return;
        }
}

/* provide registers pv (its handler set), named by what in messages, and tells the broker. */
static int provide(bay_conn *c, const char *what, const char *name, bay_kind kind, const char *const *contexts,
                   bay_handler fn, bay_async_handler afn, void *user, bay_error *err)
{
    if (c == NULL || name == NULL || *name == '\0' || (fn == NULL && afn == NULL) ||
        !bay__kind_valid((int)kind))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "%s: needs a connection, a non-empty name, kind BAY_HANDLE, BAY_EVENT or BAY_FILTER "
                             "and a handler", what);
    size_t n = strlen(name) + 1;
    bay__provider *pv = malloc(sizeof *pv + n);
    if (pv == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory providing \"%s\"", name);
    pv->fn = fn;
    pv->afn = afn;
    pv->user = user;
    memcpy(pv->name, name, n);

    bay__conn_enter(c);
    pthread_mutex_lock(&c->mu);
    int rc = find_provider_locked(c, name)
                 ? bay_error_set(err, BAY_EEXIST, NULL, "%s already provides \"%s\"", c->self, name)
                 : start_dispatcher_locked(c, err);
    if (rc == 0) {
        pv->next = c->providers;
        c->providers = pv;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == 0) {
        /* The handler is in place before the broker can route a call to it. */
        bay__frame f = {.type = BAY_F_PROVIDE, .name = name, .kind = bay__kind_name(kind), .contexts = contexts};
        if ((rc = bay__request(c, &f, BAY_SETUP_TIMEOUT_MS, NULL, err)) != 0) {
            pthread_mutex_lock(&c->mu);
            unlink_provider_locked(c, pv);
            pthread_mutex_unlock(&c->mu);
        }
    }
    if (rc)
        free(pv);
    bay__conn_leave(c);
    return rc;
}

int bay_provide(bay_conn *c, const char *name, bay_kind kind, const char *const *contexts, bay_handler fn,
                void *user, bay_error *err)
{
    return provide(c, "bay_provide", name, kind, contexts, fn, NULL, user, err);
}

int bay_provide_async(bay_conn *c, const char *name, bay_kind kind, const char *const *contexts,
                      bay_async_handler fn, void *user, bay_error *err)
{
    return provide(c, "bay_provide_async", name, kind, contexts, NULL, fn, user, err);
}

int bay_subscribe(bay_conn *c, bay_notice_fn fn, void *user, bay_error *err)
{
    if (c == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_subscribe: the connection is NULL");
    bay__conn_enter(c);
    pthread_mutex_lock(&c->mu);
    bay_notice_fn old_fn = c->notice_fn;
    void *old_user = c->notice_user;
    int rc = fn ? start_dispatcher_locked(c, err) : 0;
    if (rc == 0) {
        c->notice_fn = fn;
        c->notice_user = user;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == 0) {
        bay__frame f = {.type = BAY_F_SUBSCRIBE, .on = fn != NULL};
        if ((rc = bay__request(c, &f, BAY_SETUP_TIMEOUT_MS, NULL, err)) != 0) {
            pthread_mutex_lock(&c->mu);
            c->notice_fn = old_fn;
            c->notice_user = old_user;
            pthread_mutex_unlock(&c->mu);
        }
    }
    bay__conn_leave(c);
    return rc;
}
