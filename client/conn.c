/* client/conn.c — libplugbay connections: connect, the receiver thread, and close. */
#include "client.h"
#include "fastpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "places.h"
#include "wire.h"

#define HANDSHAKE_TIMEOUT_MS 5000
/* Longest a send waits while the broker does not read; then it fails with BAY_EBUSY. */
#define SEND_TIMEOUT_MS 5000
/* Longest bay_close waits for plugbayd to answer its goodbye. */
#define BYE_TIMEOUT_MS 2000

/* destroy frees c itself once nothing uses it any more. */
static void destroy(bay_conn *c)
{
    pthread_cond_destroy(&c->job_cv);
    pthread_cond_destroy(&c->idle_cv);
    pthread_mutex_destroy(&c->mu);
    bay__fast_free(c->fast);
    free(c->self);
    free(c->name);
    free(c->url);
    free(c);
}

/* down marks the connection down for why: every waiting request fails with
 * BAY_ECONN, every unanswered reply is cancelled. */
static void down(bay_conn *c, const char *why)
{
    pthread_mutex_lock(&c->mu);
    bay__conn_down_locked(c, why);
    bay__reply_orphan_locked(c);
    pthread_mutex_unlock(&c->mu);
}

/* pipe_gone runs on an NNG thread when the broker's end of the socket goes away. */
static void pipe_gone(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    down(arg, "lost");
}

/* reject handles a frame that failed to decode. An unreadable RESULT or ERROR
 * fails the request it answers: an ERROR sent back would read as the answer to
 * the broker's own request of that id. Anything else gets an ERROR back. */
static void reject(bay_conn *c, const bay__frame *f, int code, const char *why)
{
    if (f->type == BAY_F_RESULT || f->type == BAY_F_ERROR)
        bay__conn_answer(c, f, code, why);
    else
        bay__wire_send_error(c->sock, f->id, code, c->self, "%s could not read a frame from plugbayd: %s", c->self,
                            why);
}

static void take(bay_conn *c, const bay__frame *f)
{
    switch (f->type) {
    case BAY_F_RESULT:
    case BAY_F_ERROR:
        bay__conn_answer(c, f, 0, NULL);
        break;
    case BAY_F_CHUNK:
        bay__conn_chunk(c, f);
        break;
    case BAY_F_CREDIT:
        bay__conn_credit(c, f);
        break;
    case BAY_F_NOTICE:
        if (bay__fast_notice(c, f)) /* a revoked fast channel: for this host only */
            break;
        /* fall through */
    case BAY_F_CALL:
    case BAY_F_CANCEL:
        bay__dispatch_frame(c, f);
        break;
    default:
        bay__wire_send_error(c->sock, f->id, BAY_EPROTO, c->self, "%s does not accept %s frames", c->self,
                            bay__frame_type_name(f->type));
    }
}

/* receive_loop is the receiver thread: the only reader of the socket. It ends
 * with the answer to bay_close's bye (plugbayd's last frame: nothing is left
 * to receive, and no receive is pending as the socket closes), or when the
 * socket is closed or fails. */
static void *receive_loop(void *arg)
{
    bay_conn *c = arg;
    nng_msg *m;
    bool bye = false;
    while (!bye && bay__wire_recvmsg(c->sock, &m) == 0) {
        bay__frame f;
        bay_error e;
        int rc = bay__frame_decode(nng_msg_body(m), nng_msg_len(m), &f, &e);
        if (rc) {
            reject(c, &f, rc, e.message);
        } else {
            bye = (f.type == BAY_F_RESULT || f.type == BAY_F_ERROR) && f.id == atomic_load(&c->bye_id);
            if (!bye)
                take(c, &f);
            bay__frame_release(&f);
        }
        nng_msg_free(m);
    }
    if (bye) {
        down(c, "closed by bay_close");
    } else {
        down(c, "lost");
    }
    return NULL;
}

int bay_connect(const char *url, const char *name, bay_conn **out, bay_error *err)
{
    if (name == NULL || *name == '\0' || out == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_connect: needs a non-empty host name and a place for the connection");
    *out = NULL;
    char well_known[700], tried[1400] = "";
    if (url == NULL || *url == '\0') { /* the well-known places (places.h) */
        bay__place_broker_url((unsigned)geteuid(), well_known, sizeof well_known, tried, sizeof tried);
        url = well_known;
    }

    bay_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory connecting to plugbayd at %s", url);
    c->destroy = destroy;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->idle_cv, NULL);
    pthread_cond_init(&c->job_cv, NULL);
    atomic_init(&c->next_id, 1);
    atomic_init(&c->bye_id, 0);
    size_t selflen = strlen(name) + sizeof "host:";
    if ((c->url = strdup(url)) == NULL || (c->name = strdup(name)) == NULL || (c->self = malloc(selflen)) == NULL) {
        destroy(c);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory connecting to plugbayd at %s", url);
    }
    snprintf(c->self, selflen, "host:%s", name);

    char *pair_url = NULL, *token = NULL;
    int rc = bay__wire_rendezvous(url, "host", name, HANDSHAKE_TIMEOUT_MS, &pair_url, &token, err);
    if (rc == 0)
        rc = bay__wire_connect(pair_url, "host", name, token, HANDSHAKE_TIMEOUT_MS, &c->sock, NULL, err);
    const char *key = getenv("PLUGBAY_KEY");
    if (rc == 0 && key && *key && strncmp(url, "tls+tcp://", 10) == 0 &&
        (rc = bay__wire_auth(c->sock, url, name, token, key, HANDSHAKE_TIMEOUT_MS, err)) != 0)
        nng_close(c->sock);
    free(pair_url);
    free(token);
    if (rc == 0) {
        c->fast = bay__fast_new();
        nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, SEND_TIMEOUT_MS);
        nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_gone, c);
        int rv = pthread_create(&c->receiver, NULL, receive_loop, c);
        if (rv) {
            nng_close(c->sock);
            rc = bay_error_set(err, BAY_ENOMEM, NULL, "cannot start libplugbay's receiver thread: %s", strerror(rv));
        }
    }
    if (rc && tried[0] && rc == BAY_ECONN && err) { /* say where it looked, and how to choose */
        char said[sizeof err->message];
        snprintf(said, sizeof said, "%s", err->message);
        bay_error_set(err, rc, NULL, "%s (given no URL, libplugbay dialed %s; set PLUGBAY_BROKER, or give plugbay "
                                     "--broker URL, to choose another)", said, tried);
    }
    if (rc) {
        destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

void bay_close(bay_conn *c)
{
    if (c == NULL)
        return;
    bay__fast_close(c->fast); /* a call waiting on a fast channel ends as one waiting on plugbayd does */
    /* Goodbye first: plugbayd answers and then sends nothing more here, and
     * the receiver ends with that answer, so neither a frame nor a receive is
     * in flight while nng_close runs — NNG 1.5.2 can wedge a close for good
     * when one is. A broker that is gone or does not answer in time is closed
     * on regardless, the receiver still waiting. */
    pthread_mutex_lock(&c->mu);
    bool up = c->down == NULL;
    pthread_mutex_unlock(&c->mu);
    bool ended = false;
    if (up) {
        uint64_t id = atomic_fetch_add(&c->next_id, 1);
        atomic_store(&c->bye_id, id);
        bay__frame bye = {.type = BAY_F_COMMAND, .id = id, .name = "bye"};
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += BYE_TIMEOUT_MS / 1000;
        ended = bay__wire_send(c->sock, &bye, 0) == 0 && pthread_timedjoin_np(c->receiver, NULL, &until) == 0;
    }
    down(c, "closed by bay_close");
    nng_close(c->sock); /* returns once no pipe callback runs any more */
    if (!ended)
        pthread_join(c->receiver, NULL);
    bay__dispatch_stop(c);

    pthread_mutex_lock(&c->mu);
    while (c->users > 0)
        pthread_cond_wait(&c->idle_cv, &c->mu);
    bay__dispatch_free(c);
    c->orphaned = c->handles > 0;
    bool keep = c->orphaned;
    pthread_mutex_unlock(&c->mu);
    if (!keep)
        destroy(c);
}
