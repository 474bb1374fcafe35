/* broker/conn.c — plugbayd's connections: rendezvous, one pair1 socket per peer, handshake, sending, closing. */
#include "broker.h"
#include "auth.h"
#include "conn.h"
#include "peer.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/transport/ipc/ipc.h>

#include "value_convert.h"
#include "wire.h"

#define HANDSHAKE_TIMEOUT_MS 5000
/* The longest name a host may give (its connection is named "host:NAME" in a
 * conn's name, whole, as its key's proof signs it). */
#define HOST_NAME_MAX_LEN ((int)sizeof(((conn *)0)->name) - 6)
/* Connections one peer may hold that are not yet past HELLO, or let go by
 * the broker but kept open by the peer. */
#define PEER_LINGER_MAX 16
/* Frames of one connection waiting for the broker's thread before its socket
 * stops receiving (and the peer, once its queues fill, stops sending). */
#define CONN_BACKLOG_MAX 256

/* How a connection is closed. NNG 1.5.2 (Debian 12) can wedge for good when
 * a socket is closed while its peer is still sending: a receive the ipc and
 * tcp transports resubmit after the pipe began closing never completes, and
 * nng_close, then every later pipe teardown on NNG's one reaper thread, waits
 * for it. So plugbayd never closes a socket whose peer is connected: a
 * connection it lets go (conn_close) leaves its tables at once, keeps
 * receiving and discarding, and is closed by the closer thread when the
 * peer's pipe is gone — the peer was told why, or its worker was stopped.
 * The broker's thread never calls nng_close. */
typedef struct conn_closer {
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    conn *ready;      /* connections whose peer has gone, to close now */
    conn *lingering;  /* let go, the peer still connected (for the caps), via next_close */
    conn *closed;     /* sockets closed, for the broker's thread to free (only it frees a conn) */
    bool stop;
    pthread_t thread;
    atomic_llong closing_since_ms; /* when the close under way began, 0 when none */
    bool said_stuck;               /* the log has said a close is stuck */
} conn_closer;

/* hand_over queues c for the closer once it is let go and its peer has gone;
 * whichever of the broker and NNG's pipe callback sees both last does it. */
static void hand_over(conn *c)
{
    if (!atomic_load(&c->dropped) || atomic_load(&c->pipes) != 0 || atomic_exchange(&c->queued, true))
        return;
    conn_closer *cl = c->closer;
    pthread_mutex_lock(&cl->mtx);
    for (conn **pp = &cl->lingering; *pp; pp = &(*pp)->next_close)
        if (*pp == c) {
            *pp = c->next_close;
            break;
        }
    c->next_close = cl->ready;
    cl->ready = c;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mtx);
}

/* close_now closes c's socket (on the closer thread); no callback can touch
 * c once nng_close has returned, so it is then handed to the broker's
 * thread to free: only that thread frees a conn (and its aio), which keeps
 * conn_close safe however NNG's threads interleave with it. */
static void close_now(conn *c)
{
    nng_aio_stop(c->recv_aio);
    nng_close(c->sock);
    if (c->path[0])
        unlink(c->path);
    conn_closer *cl = c->closer;
    pthread_mutex_lock(&cl->mtx);
    c->next_close = cl->closed;
    cl->closed = c;
    pthread_mutex_unlock(&cl->mtx);
}

/* free_closed frees the conns whose sockets the closer has closed (and their
 * aio here, as conn_close may still have been re-arming it). */
static void free_closed(conn_closer *cl)
{
    pthread_mutex_lock(&cl->mtx);
    conn *c = cl->closed;
    cl->closed = NULL;
    pthread_mutex_unlock(&cl->mtx);
    for (conn *next; c; c = next) {
        next = c->next_close;
        nng_aio_free(c->recv_aio);
        bay__strv_free(c->grants);
        free(c);
    }
}

static void *closer_main(void *arg)
{
    conn_closer *cl = arg;
    pthread_mutex_lock(&cl->mtx);
    for (;;) {
        while (cl->ready == NULL && !cl->stop)
            pthread_cond_wait(&cl->cv, &cl->mtx);
        if (cl->ready == NULL)
            break;
        conn *c = cl->ready;
        cl->ready = c->next_close;
        pthread_mutex_unlock(&cl->mtx);
        atomic_store(&cl->closing_since_ms, bay__now_ms());
        close_now(c);
        atomic_store(&cl->closing_since_ms, 0);
        pthread_mutex_lock(&cl->mtx);
    }
    pthread_mutex_unlock(&cl->mtx);
    return NULL;
}

/* The log lines about one peer (who dialled the rendezvous, or one worker)
 * share a rate limit that outlives its connections by a window, so that
 * reconnecting does not start it afresh. */
typedef struct peer_log {
    uint64_t key;
    unsigned conns;      /* connections that log through it */
    bay__log_limit limit;
    char who[128];       /* the name its last connection had */
} peer_log;

/* peer_log_hold returns the rate limit of peer key, made when new; NULL when out of memory. */
static peer_log *peer_log_hold(broker *b, uint64_t key)
{
    peer_log *pl = bay__idmap_get(b->peer_logs, key);
    if (pl == NULL && (pl = calloc(1, sizeof *pl)) != NULL) {
        pl->key = key;
        if (bay__idmap_put(b->peer_logs, key, pl) != 0) {
            free(pl);
            pl = NULL;
        }
    }
    if (pl)
        pl->conns++;
    return pl;
}

/* peer_logs_prune forgets the rate limits no connection uses whose window has
 * passed, saying how many lines each suppressed; once a second at most. */
static void peer_logs_prune(broker *b, int64_t now, bool all)
{
    if (!all && now - b->peer_logs_pruned_ms < 1000)
        return;
    b->peer_logs_pruned_ms = now;
    size_t n = bay__idmap_count(b->peer_logs);
    peer_log **logs = malloc((n ? n : 1) * sizeof *logs);
    n = logs ? bay__idmap_values(b->peer_logs, (void **)logs, n) : 0;
    for (size_t i = 0; i < n; i++) {
        peer_log *pl = logs[i];
        if (all || (pl->conns == 0 && now - pl->limit.window_ms >= BAY_LOG_WINDOW_MS)) {
            bay__log_limit_end(&pl->limit, pl->who);
            bay__idmap_del(b->peer_logs, pl->key);
            free(pl);
        }
    }
    free(logs);
}

/* resume receives again on c after a pause, once (broker_pause set it). */
static void resume(conn *c)
{
    if (atomic_exchange(&c->paused, false))
        nng_recv_aio(c->sock, c->recv_aio);
}

/* Events queued by NNG's threads for the broker's thread. */
typedef struct event {
    uint64_t session; /* 0: the rendezvous socket */
    nng_msg *msg;     /* NULL when the peer went away */
    struct event *next;
} event;

/* conn_queue_push (conn.h) also takes, from NNG's threads, msg NULL: the
 * news that the peer left; session 0 is the rendezvous socket. */
bool conn_queue_push(struct broker_queue *q, uint64_t session, nng_msg *msg)
{
    event *e = malloc(sizeof *e);
    if (e == NULL) {
        if (msg)
            nng_msg_free(msg);
        return false;
    }
    *e = (event){session, msg, NULL};
    pthread_mutex_lock(&q->mtx);
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    pthread_mutex_unlock(&q->mtx);
    uint64_t one = 1;
    ssize_t w = write(q->wake_fd, &one, sizeof one);
    (void)w;
    return true;
}

/* Runs on an NNG thread: passes the message on (or drops it when the broker
 * let go of the connection) and waits for the next, unless the broker's
 * thread has CONN_BACKLOG_MAX of c's frames still to handle: then c pauses
 * until it catches up (conn_handle), so a flood waits in its own queue. */
static void recv_cb(void *arg)
{
    conn *c = arg;
    if (nng_aio_result(c->recv_aio) != 0)
        return;
    nng_msg *msg = nng_aio_get_msg(c->recv_aio);
    if (atomic_load(&c->dropped)) {
        nng_msg_free(msg);
    } else {
        if (conn_queue_push(c->queue, c->session, msg) && atomic_fetch_add(&c->backlog, 1) + 1 >= CONN_BACKLOG_MAX) {
            atomic_store(&c->paused, true);
            /* The broker's thread may have caught up, or let go, before the pause. */
            if (atomic_load(&c->dropped) || atomic_load(&c->backlog) < CONN_BACKLOG_MAX / 2)
                resume(c);
            return;
        }
    }
    nng_recv_aio(c->sock, c->recv_aio);
}

/* pipe_pid returns the pid of the process at the other end of pipe p over
 * ipc (SO_PEERCRED), 0 over tcp. */
static pid_t pipe_pid(nng_pipe p)
{
    uint64_t pid;
    return nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 ? (pid_t)pid : 0;
}

/* admitted tells whether pipe p may be c's peer (on an NNG thread): over ipc
 * a worker's socket takes only its worker, a host's only the process that did
 * its rendezvous, and neither a plugin's worker nor a descendant of one. Over
 * tcp the peer's pid is not known (docs/security.md). */
static bool admitted(conn *c, nng_pipe p)
{
    pid_t pid = pipe_pid(p);
    if (pid == 0 || (c->for_worker && peer_is_worker_of(c->guard, pid, c->session)))
        return true;
    char where[64];
    snprintf(where, sizeof where, "connection %llu", (unsigned long long)c->session);
    if (peer_admit(c->guard, pid, where, true, NULL) != 0)
        return false;
    if (!c->for_worker && (c->peer_pid == 0 || c->peer_pid == pid))
        return true;
    peer_log_stray(c->guard, pid, c->session, c->peer_pid);
    return false;
}

/* Runs on an NNG thread as the peer's pipes come and go. The first pipe
 * admitted is the peer: its socket file goes at once, so nobody else can dial
 * it; any other pipe is refused before the protocol starts on it (closing a
 * pipe there is safe), and its leaving is not the peer's. */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    conn *c = arg;
    if (ev == NNG_PIPE_EV_ADD_PRE) {
        atomic_fetch_add(&c->pipes, 1);
        if (!admitted(c, p) || atomic_exchange(&c->had_pipe, true)) {
            nng_pipe_close(p);
        } else {
            atomic_store(&c->peer_pipe, nng_pipe_id(p));
            if (c->path[0])
                unlink(c->path);
        }
        hand_over(c); /* NNG may have run this pipe's REM_POST before the count went up */
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        atomic_fetch_sub(&c->pipes, 1);
        if (nng_pipe_id(p) == atomic_load(&c->peer_pipe) && !atomic_load(&c->dropped))
            conn_queue_push(c->queue, c->session, NULL);
        hand_over(c);
    }
}

static void rdv_cb(void *arg)
{
    broker *b = arg;
    if (nng_aio_result(b->rdv_aio) == 0)
        conn_queue_push(&b->queue, 0, nng_aio_get_msg(b->rdv_aio));
}

/* tls_listener gives listener l plugbayd's certificate and key (--tls-cert)
 * and lets in only peers whose certificate chains to --tls-client-ca. */
static int tls_listener(broker *b, nng_listener l)
{
    int rv = nng_listener_set_string(l, NNG_OPT_TLS_CERT_KEY_FILE, b->opt.tls_cert);
    if (rv == 0)
        rv = nng_listener_set_string(l, NNG_OPT_TLS_CA_FILE, b->opt.tls_client_ca);
    if (rv == 0)
        rv = nng_listener_set_int(l, NNG_OPT_TLS_AUTH_MODE, NNG_TLS_AUTH_MODE_REQUIRED);
    return rv;
}

/* make_conn_dir removes a killed broker's public socket file and makes the
 * folder of hosts' connection sockets beside it, empty, mode 0711: another
 * local user can reach a socket it was told the name of, not list them. */
static int make_conn_dir(broker *b)
{
    unlink(b->url + 6); /* we hold the state lock */
    snprintf(b->conn_dir, sizeof b->conn_dir, "%s.d", b->url + 6);
    DIR *d = (mkdir(b->conn_dir, 0711) == 0 || errno == EEXIST) && chmod(b->conn_dir, 0711) == 0 ? opendir(b->conn_dir)
                                                                                                  : NULL;
    if (d == NULL) {
        bay__log(BAY_LOG_ERROR, NULL, "cannot make %s for hosts' connection sockets: %s", b->conn_dir, strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0); /* a killed broker's sockets */
    closedir(d);
    return 0;
}

int conn_listen_public(broker *b)
{
    if (b->opt.listen_url)
        snprintf(b->url, sizeof b->url, "%s", b->opt.listen_url);
    else
        snprintf(b->url, sizeof b->url, "ipc://%s/plugbayd.sock", b->opt.state_dir);
    if (strncmp(b->url, "ipc://", 6) == 0 && make_conn_dir(b) != 0)
        return BAY_EIO;
    conn_closer *cl = calloc(1, sizeof *cl);
    int rv = cl ? 0 : NNG_ENOMEM;
    if (rv == 0) {
        pthread_mutex_init(&cl->mtx, NULL);
        pthread_cond_init(&cl->cv, NULL);
        rv = pthread_create(&cl->thread, NULL, closer_main, cl) ? NNG_ENOMEM : 0;
        if (rv == 0)
            b->closer = cl;
        else
            free(cl);
    }
    if (rv == 0)
        rv = (b->peer_logs = bay__idmap_new()) == NULL ? NNG_ENOMEM : 0;
    if (rv == 0)
        rv = nng_rep0_open(&b->rdv);
    if (rv == 0)
        rv = nng_socket_set_size(b->rdv, NNG_OPT_RECVMAXSZ, 64 * 1024);
    /* Over ipc the socket file is open to every local user (0666): who may
     * connect is decided by uid at the rendezvous (docs/security.md); the
     * folder the file is in decides who can reach it at all. */
    nng_listener l;
    if (rv == 0)
        rv = nng_listener_create(&l, b->rdv, b->url);
    if (rv == 0 && strncmp(b->url, "ipc://", 6) == 0)
        rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0666);
    if (rv == 0 && b->opt.tls_cert)
        rv = tls_listener(b, l);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv == 0)
        rv = nng_aio_alloc(&b->rdv_aio, rdv_cb, b);
    if (rv) {
        bay__log(BAY_LOG_ERROR, NULL, "cannot listen on %s: %s; choose another address with --listen", b->url,
                nng_strerror(rv));
        return BAY_EIO;
    }
    nng_recv_aio(b->rdv, b->rdv_aio);
    return 0;
}

/* pair_url builds the listen address of a new connection: next to the public
 * one for a host (a tcp port the kernel chooses, or a socket file in the
 * folder beside the public one, which the host could reach), a socket file
 * in the run dir for a worker. */
static void pair_url(broker *b, conn_role role, uint64_t session, char *url, size_t len)
{
    const char *host = NULL;
    if (role != ROLE_WORKER && strncmp(b->url, "tls+tcp://", 10) == 0)
        host = b->url + 10;
    if (host) {
        const char *colon = strrchr(host, ':');
        snprintf(url, len, "tls+tcp://%.*s:0", (int)(colon ? colon - host : (ptrdiff_t)strlen(host)), host);
    } else if (role != ROLE_WORKER) {
        snprintf(url, len, "ipc://%s/c%llu.sock", b->conn_dir, (unsigned long long)session);
    } else {
        snprintf(url, len, "ipc://%s/c%llu.sock", b->run_dir, (unsigned long long)session);
    }
}

/* conn_alloc returns a new connection of b with its session and role, or NULL when out of memory. */
static conn *conn_alloc(broker *b, conn_role role)
{
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->session = ++b->next_session;
    c->role = role;
    c->guard = b->guard;
    c->queue = &b->queue;
    c->opened_ms = bay__now_ms();
    c->closer = b->closer;
    return c;
}

conn *conn_open(broker *b, conn_role role, uint64_t peer, pid_t peer_pid, char *url, size_t urllen)
{
    conn *c = conn_alloc(b, role);
    if (c == NULL)
        return NULL;
    c->peer = peer;
    c->peer_pid = peer_pid;
    c->for_worker = role == ROLE_WORKER;
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < 16; i++)
        snprintf(c->token + 2 * i, 3, "%02x", rnd[i]);
    pair_url(b, role, c->session, url, urllen);
    int rv = bay__wire_open(&c->sock);
    if (rv) {
        free(c);
        return NULL;
    }
    /* Everything a pipe's callbacks use is in place before anyone can dial. */
    if (rv == 0)
        rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, c);
    if (rv == 0)
        rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_cb, c);
    if (rv == 0)
        rv = nng_aio_alloc(&c->recv_aio, recv_cb, c);
    if (rv == 0)
        rv = (c->log = peer_log_hold(b, peer ? peer : 1ULL << 63 | c->session)) == NULL ? NNG_ENOMEM : 0;
    if (rv == 0 && (rv = nng_listener_create(&c->listener, c->sock, url)) == 0 && strncmp(url, "ipc://", 6) == 0) {
        snprintf(c->path, sizeof c->path, "%s", url + 6);
        /* A host's may be another local user's; only the pid that did the rendezvous may dial it (peer.h). */
        nng_listener_set_int(c->listener, NNG_OPT_IPC_PERMISSIONS, role == ROLE_WORKER ? 0600 : 0666);
    }
    if (rv == 0 && role != ROLE_WORKER && b->opt.tls_cert)
        rv = tls_listener(b, c->listener);
    if (rv == 0 && (rv = nng_listener_start(c->listener, 0)) == 0 && strncmp(url, "tls+tcp://", 10) == 0) {
        int port = 0;
        nng_listener_get_int(c->listener, NNG_OPT_TCP_BOUND_PORT, &port);
        char *colon = strrchr(url, ':');
        snprintf(colon + 1, urllen - (size_t)(colon + 1 - url), "%d", port);
    }
    if (rv == 0 && bay__idmap_put(b->conns, c->session, c) != 0)
        rv = NNG_ENOMEM;
    if (rv && c->log)
        c->log->conns--;
    if (rv) {
        bay__log(BAY_LOG_ERROR, NULL, "cannot open a connection socket at %s: %s", url, nng_strerror(rv));
        nng_close(c->sock);
        nng_aio_free(c->recv_aio);
        free(c);
        return NULL;
    }
    nng_recv_aio(c->sock, c->recv_aio);
    return c;
}

conn *conn_open_local(broker *b, const char *name, bay__role rights, char *const *grants, int64_t uid,
                      const conn_local *local, void *data)
{
    conn *c = conn_alloc(b, ROLE_HOST);
    if (c == NULL)
        return NULL;
    c->hello_done = c->auth_over = c->subscribed = true;
    c->pid = getpid();
    c->uid = uid;
    c->rights = rights;
    c->local = local;
    c->local_data = data;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->who, sizeof c->who, "%s (uid %lld, role %s)", name, (long long)uid, bay__role_name(rights));
    if ((grants && (c->grants = bay__strv_copy((const char *const *)grants)) == NULL) ||
        (c->log = peer_log_hold(b, 1ULL << 63 | c->session)) == NULL) {
        bay__strv_free(c->grants);
        free(c);
        return NULL;
    }
    if (bay__idmap_put(b->conns, c->session, c) != 0) {
        c->log->conns--;
        bay__strv_free(c->grants);
        free(c);
        return NULL;
    }
    bay__log(BAY_LOG_INFO, c->name, "connected (%s)", c->who);
    return c;
}

conn *conn_get(broker *b, uint64_t session)
{
    return bay__idmap_get(b->conns, session);
}

void conn_close(broker *b, conn *c)
{
    bay__idmap_del(b->conns, c->session);
    bay__idmap_free(c->asked); /* its calls no longer find it (conn_get) */
    c->asked = NULL;
    snprintf(c->log->who, sizeof c->log->who, "%s", c->name);
    c->log->conns--;
    if (c->plugin && c->plugin->worker == c)
        c->plugin->worker = NULL;
    if (c->plugin && c->plugin->other_worker == c)
        c->plugin->other_worker = NULL;
    replica *r = c->plugin ? plugin_replica(c->plugin, c) : NULL;
    if (r)
        r->worker = NULL;
    c->plugin = NULL;
    conn_closer *cl = c->closer;
    pthread_mutex_lock(&cl->mtx);
    if (c->local) { /* no socket to close: freed with the closed ones, after this turn of the loop */
        atomic_store(&c->dropped, true);
        c->next_close = cl->closed;
        cl->closed = c;
        pthread_mutex_unlock(&cl->mtx);
        return;
    }
    c->next_close = cl->lingering; /* listed before it is marked, so hand_over finds it */
    cl->lingering = c;
    pthread_mutex_unlock(&cl->mtx);
    atomic_store(&c->dropped, true);
    resume(c);
    hand_over(c);
}

size_t conn_lingering(broker *b, uint64_t peer)
{
    size_t n = 0, count;
    conn **all = conn_snapshot(b, &count);
    for (size_t i = 0; i < count; i++)
        n += all[i]->peer == peer && all[i]->role != ROLE_WORKER &&
             (!all[i]->hello_done || all[i]->rights == BAY_ROLE_NONE);
    free(all);
    pthread_mutex_lock(&b->closer->mtx);
    for (conn *c = b->closer->lingering; c; c = c->next_close)
        n += c->peer == peer;
    pthread_mutex_unlock(&b->closer->mtx);
    return n;
}

/* warn logs a line about c, within its rate limit. */
#define warn(c, ...) bay__log_limited(&(c)->log->limit, bay__now_ms(), BAY_LOG_WARN, (c)->name, __VA_ARGS__)

/* sent counts a frame sent, or logs one that could not be. */
static int sent(broker *b, conn *c, int type, int rc)
{
    if (rc == 0)
        b->frames_sent++;
    else
        warn(c, "cannot send %s frame: %s%s", bay__frame_type_name(type), bay_strerror(rc),
                rc == BAY_EBUSY ? " (the peer is not reading; its queue of 8192 frames is full)" : "");
    return rc;
}

/* send_local hands f to the console that holds c (nothing once c is let go). */
static int send_local(conn *c, const bay__frame *f)
{
    nng_msg *m;
    if (atomic_load(&c->dropped))
        return 0;
    int rc = bay__wire_msg(f, &m);
    if (rc == 0)
        c->local->deliver(c->local_data, c->session, m);
    return rc;
}

int conn_send(broker *b, conn *c, const bay__frame *f)
{
    return sent(b, c, (int)f->type, c->local ? send_local(c, f) : bay__wire_send(c->sock, f, NNG_FLAG_NONBLOCK));
}

void conn_send_error(broker *b, conn *c, uint64_t id, int code, const char *plugin, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    conn_send(b, c, &(bay__frame){.type = BAY_F_ERROR, .id = id, .code = code, .plugin = plugin, .message = text});
}

void conn_send_value(broker *b, conn *c, uint64_t id, const bay_value *v)
{
    void *raw = NULL;
    size_t len = 0;
    if (v && bay_value_pack(v, &raw, &len)) {
        conn_send_error(b, c, id, BAY_ENOMEM, NULL, "plugbayd ran out of memory building the answer");
        return;
    }
    bay__frame f = {.type = BAY_F_RESULT, .id = id, .raw = raw, .raw_len = len};
    conn_send(b, c, &f);
    free(raw);
}

/* rdv_reply answers the rendezvous request in msg's place and re-arms the receive. */
static void rdv_reply(broker *b, const bay__frame *f)
{
    nng_msg *m;
    if (bay__wire_msg(f, &m) == 0 && bay__wire_sendmsg(b->rdv, m, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(m);
}

/* peer_key names who sent a rendezvous request: its pid over ipc, its
 * address over tcp (0 when neither can be read). */
static uint64_t peer_key(nng_msg *msg)
{
    nng_pipe p = nng_msg_get_pipe(msg);
    pid_t pid = pipe_pid(p);
    if (pid > 0)
        return (uint64_t)pid;
    nng_sockaddr sa;
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
        return 0;
    if (sa.s_family == NNG_AF_INET)
        return 1ULL << 32 | sa.s_in.sa_addr;
    uint64_t h = 2ULL << 32;
    for (int i = 0; sa.s_family == NNG_AF_INET6 && i < 16; i++)
        h = h * 131 + sa.s_in6.sa_addr[i];
    return h;
}

/* grants_of sets *grants to a copy of the grants of host h when its role is
 * host (the others' rights are not limited by grants: NULL); false when out
 * of memory. */
static bool grants_of(const bay__state_host *h, char ***grants)
{
    *grants = NULL;
    return h->role != BAY_ROLE_HOST || (*grants = bay__strv_copy((const char *const *)h->granted)) != NULL;
}

/* identify decides who a rendezvous request comes from: over ipc its user
 * (SO_PEERCRED) and the role that user has, with the grants of a host an
 * admin added (*grants, a copy; NULL: unlimited); over tls+tcp, whose TLS
 * handshake checked its certificate, plugbayd --remote-role. BAY_EPERM when
 * the user may not connect. */
static int identify(broker *b, nng_pipe p, int64_t *uid, bay__role *rights, char ***grants, bay_error *err)
{
    uint64_t u;
    *grants = NULL;
    if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &u) != 0) { /* tls+tcp: its certificate let it in */
        *uid = -1;
        *rights = b->opt.remote_role;
        return 0;
    }
    *uid = (int64_t)u;
    const bay__state_host *h = bay__state_host_of_uid(b->state, (uint32_t)u);
    *rights = bay__role_of_uid((uint32_t)u, (uint32_t)geteuid(), h ? h->role : BAY_ROLE_NONE);
    if (*rights == BAY_ROLE_NONE)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "uid %llu may not use plugbayd; an admin lets it in with `plugbay host add uid%llu "
                             "--uid %llu --role observer` (or --role host, or admin)",
                             (unsigned long long)u, (unsigned long long)u, (unsigned long long)u);
    if (*rights == BAY_ROLE_HOST && !grants_of(h, grants))
        return bay_error_set(err, BAY_ENOMEM, NULL, "plugbayd is out of memory");
    return 0;
}

/* conns_of counts the host connections open now of local user uid (>= 0),
 * or else of the remote peer (peer_key's address). */
static size_t conns_of(broker *b, int64_t uid, uint64_t peer)
{
    size_t n = 0, count;
    conn **all = conn_snapshot(b, &count);
    for (size_t i = 0; i < count; i++)
        n += all[i]->role != ROLE_WORKER && (uid >= 0 ? all[i]->uid == uid : all[i]->uid < 0 && all[i]->peer == peer);
    free(all);
    return n;
}

static void handle_rendezvous(broker *b, nng_msg *msg)
{
    bay__frame f;
    char why[512], url[600];
    bay_error e;
    int rc = bay__frame_decode(nng_msg_body(msg), nng_msg_len(msg), &f, &e);
    if (rc)
        snprintf(why, sizeof why, "%s", e.message);
    bool decoded = rc == 0;
    if (rc == 0 && f.type != BAY_F_HELLO) {
        snprintf(why, sizeof why, "expected HELLO to open a connection, got %s", bay__frame_type_name(f.type));
        rc = BAY_EPROTO;
    } else if (rc == 0 && strcmp(f.role, "host") != 0 && strcmp(f.role, "cli") != 0) {
        snprintf(why, sizeof why, "role \"%s\" cannot connect here (hosts say \"host\" or \"cli\")", f.role);
        rc = BAY_EPROTO;
    } else if (rc == 0 && strlen(f.name) > HOST_NAME_MAX_LEN) {
        snprintf(why, sizeof why, "a host's name is at most %d bytes; this one has %zu", HOST_NAME_MAX_LEN,
                 strlen(f.name));
        rc = BAY_EINVAL;
    }
    if (rc == BAY_EVERSION)
        snprintf(why, sizeof why,
                 "protocol version mismatch: the client speaks version %lld, plugbayd %s speaks version %d; use a "
                 "client library and broker of the same protocol version",
                 (long long)f.version, b->version, BAY_WIRE_VERSION);
    uint64_t peer = peer_key(msg);
    pid_t pid = pipe_pid(nng_msg_get_pipe(msg));
    /* Whatever it sent, a plugin's process is refused as such, named in the
     * log under that plugin's rate limit (docs/security.md). */
    bay_error refused;
    bool from_plugin = peer_admit(b->guard, pid, "the rendezvous socket", false, &refused) != 0;
    if (from_plugin) {
        rc = BAY_EPERM;
        snprintf(why, sizeof why, "%s", refused.message);
    }
    int64_t uid = -1;
    bay__role rights = BAY_ROLE_NONE;
    char **grants = NULL;
    if (rc == 0 && (rc = identify(b, nng_msg_get_pipe(msg), &uid, &rights, &grants, &e)) != 0)
        snprintf(why, sizeof why, "%s", e.message);
    size_t held = rc ? 0 : conn_lingering(b, peer), open = rc ? 0 : conns_of(b, uid, peer);
    if (open >= (size_t)b->opt.max_connections) {
        if (uid >= 0)
            snprintf(why, sizeof why, "uid %lld has %zu connections open to plugbayd, the most one user may "
                     "(plugbayd --max-connections); close some before opening more", (long long)uid, open);
        else
            snprintf(why, sizeof why, "this address has %zu connections open to plugbayd, the most one remote "
                     "address may (plugbayd --max-connections); close some before opening more", open);
        rc = BAY_EBUSY;
    } else if (held >= PEER_LINGER_MAX) {
        snprintf(why, sizeof why,
                 "this peer holds %zu connections that are not past their handshake or were closed by plugbayd "
                 "and not by the peer; close them before opening more",
                 held);
        rc = BAY_EBUSY;
    }
    conn *c = rc ? NULL : conn_open(b, ROLE_PENDING, peer, pid, url, sizeof url);
    if (rc == 0 && c == NULL) {
        snprintf(why, sizeof why, "plugbayd could not open a connection socket (see its log)");
        rc = BAY_EIO;
    }
    if (rc) {
        if (!from_plugin)
            bay__log_limited(&b->rdv_warns, bay__now_ms(), BAY_LOG_WARN, NULL, "refused a connection: %s", why);
        rdv_reply(b, &(bay__frame){.type = BAY_F_ERROR, .id = f.id, .code = rc, .message = why});
        bay__strv_free(grants);
    } else {
        snprintf(c->name, sizeof c->name, "host:%s", f.name);
        c->uid = uid;
        c->rights = rights;
        c->grants = grants;
        rdv_reply(b, &(bay__frame){.type = BAY_F_WELCOME, .id = f.id, .name = b->version,
                                  .session = (int64_t)c->session, .url = url, .token = c->token});
    }
    if (decoded)
        bay__frame_release(&f);
    nng_msg_free(msg);
    nng_recv_aio(b->rdv, b->rdv_aio);
}

/* hello checks the first frame on a connection: HELLO with the token it was
 * given, then hands it to the role's table (a worker's says it is ready). */
static void hello(broker *b, conn *c, const bay__frame *f)
{
    if (f->type != BAY_F_HELLO || !f->token || strcmp(f->token, c->token) != 0) {
        warn(c, "closing a connection whose first frame was not HELLO with its token");
        conn_send_error(b, c, f->id, BAY_EPERM, NULL, "the first frame must be HELLO with the connection's token");
        conn_close(b, c);
        return;
    }
    bool worker = c->role == ROLE_WORKER;
    if (worker != (strcmp(f->role, "worker") == 0)) {
        conn_send_error(b, c, f->id, BAY_EPROTO, NULL, "role \"%s\" does not fit this connection", f->role);
        conn_close(b, c);
        return;
    }
    if (!worker) {
        c->role = ROLE_HOST;
        snprintf(c->name, sizeof c->name, "host:%s", f->name);
    }
    c->hello_done = true;
    c->pid = (pid_t)f->pid;
    bay__frame w = {.type = BAY_F_WELCOME, .id = f->id, .name = b->version, .session = (int64_t)c->session};
    conn_send(b, c, &w);
    if (!worker) {
        char uid[32] = "";
        if (c->uid >= 0)
            snprintf(uid, sizeof uid, "uid %lld, ", (long long)c->uid);
        snprintf(c->who, sizeof c->who, "%s (%srole %s)", c->name, uid, bay__role_name(c->rights));
        bay__log(BAY_LOG_INFO, c->name, "connected (pid %d, %srole %s)", c->pid, uid, bay__role_name(c->rights));
    }
    const conn_rule *r = &(worker ? b->dispatch->worker : b->dispatch->host)[BAY_F_HELLO];
    if (r->fn)
        r->fn(b, c, f);
}

static void removed(broker *b, conn *c);

/* admit gives c host h's role and grants and names it by its key; false when out of memory. */
static bool admit(conn *c, const bay__state_host *h)
{
    char **grants;
    if (!grants_of(h, &grants))
        return false;
    bay__strv_free(c->grants);
    c->grants = grants;
    c->rights = h->role;
    c->keyed = true;
    memcpy(c->key, h->key, sizeof c->key);
    snprintf(c->who, sizeof c->who, "%s (key %s %s, role %s)", c->name, h->name, h->key_id, bay__role_name(h->role));
    return true;
}

/* prove answers host c's COMMAND auth f (auth.h): over ipc, where the user
 * decides, BAY_EINVAL and nothing changes; a proved key gives c its host's
 * role and grants, answered {"host", "key_id", "role"}; a second auth, one
 * after other frames, or one auth_check refuses is answered with what to do,
 * logged under [audit], and c is let go. */
static void prove(broker *b, conn *c, const bay__frame *f)
{
    if (c->uid >= 0) {
        conn_send_error(b, c, f->id, BAY_EINVAL, NULL,
                        "over ipc:// plugbayd knows a host by its user (uid %lld), not by a key: keys are for "
                        "tls+tcp:// (unset PLUGBAY_KEY, or let the user in with `plugbay host add uid%lld --uid %lld --role "
                        "observer`)", (long long)c->uid, (long long)c->uid, (long long)c->uid);
        return;
    }
    const bay__state_host *h = NULL;
    bay_error err;
    int rc = c->auth_over ? bay_error_set(&err, BAY_EPERM, NULL,
                                          "auth comes once, as the first frame after HELLO; connect again to prove "
                                          "another key")
                          : auth_check(b->state, c->token, c->name + strlen("host:"), f, &h, &err);
    c->auth_over = true;
    if (rc == 0 && !admit(c, h))
        rc = bay_error_set(&err, BAY_ENOMEM, NULL, "plugbayd is out of memory");
    if (rc) {
        bay__log(BAY_LOG_WARN, "audit", "%s: auth: %s: %s", conn_who(c), bay_errname(rc), err.message);
        conn_let_go(b, c, f->id, rc, err.message);
        return;
    }
    bay__log(BAY_LOG_INFO, c->name, "proved key %s of host %s: role %s", h->key_id, h->name, bay__role_name(h->role));
    bay__log(BAY_LOG_INFO, "audit", "%s: auth: done", conn_who(c));
    bay_value *v = bay_map();
    bay_map_set(v, "host", bay_str(h->name));
    bay_map_set(v, "key_id", bay_str(h->key_id));
    bay_map_set(v, "role", bay_str(bay__role_name(h->role)));
    conn_send_value(b, c, f->id, v);
    bay_value_free(v);
}

/* dispatch hands f, from c past its HELLO, to what its role's table says.
 * A host's COMMAND bye is conn.c's own: the host is closing. It is let go
 * first (the notices that sends it come before the answer), then answered:
 * the last frame this connection carries, so nothing arrives while the
 * host's NNG closes its socket (which can wedge NNG 1.5.2 for good). Its
 * socket stays open until the host's pipe is gone. */
static void dispatch(broker *b, conn *c, const bay__frame *f)
{
    bool worker = c->role == ROLE_WORKER;
    if (!worker && f->type == BAY_F_COMMAND && strcmp(f->name, "bye") == 0) {
        removed(b, c);
        conn_send_value(b, c, f->id, NULL);
        return;
    }
    if (!worker && f->type == BAY_F_COMMAND && strcmp(f->name, "auth") == 0) {
        prove(b, c, f);
        return;
    }
    c->auth_over = true;
    if (!worker && c->rights == BAY_ROLE_NONE) {
        conn_send_error(b, c, f->id, BAY_EPERM, NULL,
                        "%s may do nothing until it proves a key: set PLUGBAY_KEY to the host's secret key file, "
                        "which an admin added with `plugbay host add NAME --key FILE.pub --role observer` "
                        "(docs/remote-hosts.md)", conn_who(c));
        return;
    }
    bool known = f->type >= 0 && f->type <= BAY_F_TYPE_MAX && f->type != BAY_F_HELLO;
    const conn_rule *r = known ? &(worker ? b->dispatch->worker : b->dispatch->host)[f->type] : NULL;
    if (r && r->fn && !worker && !bay__role_allows(c->rights, r->need))
        conn_send_error(b, c, f->id, BAY_EPERM, NULL, "%s may not send %s frames: they need role %s", conn_who(c),
                        bay__frame_type_name(f->type), bay__role_name(r->need));
    else if (r && r->fn)
        r->fn(b, c, f);
    else
        conn_send_error(b, c, f->id, BAY_EPROTO, worker && c->plugin ? c->plugin->id : NULL,
                        "a %s cannot send %s frames", worker ? "worker" : "host", bay__frame_type_name(f->type));
}

static void handle(broker *b, conn *c, nng_msg *msg)
{
    if (c->local == NULL && atomic_fetch_sub(&c->backlog, 1) - 1 < CONN_BACKLOG_MAX / 2)
        resume(c);
    b->frames_received++;
    bay__frame f;
    bay_error e;
    int rc = bay__frame_decode(nng_msg_body(msg), nng_msg_len(msg), &f, &e);
    if (rc) {
        warn(c, "bad frame: %s", e.message);
        /* A bad answer is not answered (an ERROR with its id would read as the
         * answer to the peer's own request): the call it answers fails instead. */
        if (c->hello_done && (f.type == BAY_F_RESULT || f.type == BAY_F_ERROR)) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s sent a malformed answer: %s", c->name, e.message);
            dispatch(b, c, &(bay__frame){.type = BAY_F_ERROR, .id = f.id, .code = rc, .message = msg});
        } else {
            conn_send_error(b, c, f.id, rc, NULL, "plugbayd %s: %s", b->version, e.message);
        }
        nng_msg_free(msg);
        return;
    }
    if (!c->hello_done)
        hello(b, c, &f);
    else
        dispatch(b, c, &f);
    bay__frame_release(&f);
    nng_msg_free(msg);
}

static void removed(broker *b, conn *c)
{
    if (c->role == ROLE_WORKER) {
        /* The worker's exit status, reaped by supervise.c, tells the rest. */
        if (c->plugin)
            bay__log(BAY_LOG_DEBUG, c->name, "worker connection closed");
        return;
    }
    bay__log(BAY_LOG_INFO, c->name, "disconnected");
    for (size_t i = 0; i < b->nhost_gone; i++)
        b->host_gone[i](b, c);
    conn_close(b, c);
}

const char *conn_who(const conn *c)
{
    return c->who;
}

bool conn_may(const conn *c, const char *what, const char *name)
{
    return c->grants == NULL || permission_granted(c->grants, what, name);
}

void conn_let_go(broker *b, conn *c, uint64_t id, int code, const char *why)
{
    conn_send_error(b, c, id, code, NULL, "%s", why);
    removed(b, c);
}

conn **conn_snapshot(broker *b, size_t *n)
{
    size_t count = bay__idmap_count(b->conns);
    conn **all = malloc((count ? count : 1) * sizeof *all);
    *n = all ? bay__idmap_values(b->conns, (void **)all, count) : 0;
    return all;
}

/* closer_watch says once in the log when a close has not finished in 10 s. */
static void closer_watch(broker *b, int64_t now)
{
    int64_t since = atomic_load(&b->closer->closing_since_ms);
    if (since == 0 || now - since < 10000 || b->closer->said_stuck)
        return;
    b->closer->said_stuck = true;
    bay__log(BAY_LOG_ERROR, NULL,
            "closing a connection has taken %lld s: NNG %s can stop closing sockets for good when a pipe closes "
            "while its peer is still sending; plugbayd keeps serving, but from now on the connections it closes "
            "keep their descriptors until it is restarted",
            (long long)(now - since) / 1000, nng_version());
}

void conn_expire_handshakes(broker *b, int64_t now)
{
    free_closed(b->closer);
    peer_logs_prune(b, now, false);
    peer_guard_flush(b->guard);
    closer_watch(b, now);
    size_t n;
    conn **all = conn_snapshot(b, &n);
    for (size_t i = 0; i < n; i++) {
        conn *c = all[i];
        if (!c->hello_done && c->role != ROLE_WORKER && now - c->opened_ms > HANDSHAKE_TIMEOUT_MS) {
            warn(c, "no HELLO within %d ms; closing", HANDSHAKE_TIMEOUT_MS);
            conn_send_error(b, c, 0, BAY_ETIMEDOUT, NULL, "no HELLO within %d ms; plugbayd closed this connection",
                            HANDSHAKE_TIMEOUT_MS);
            conn_close(b, c);
        } else if (c->role == ROLE_HOST && c->rights == BAY_ROLE_NONE && now - c->opened_ms > HANDSHAKE_TIMEOUT_MS) {
            warn(c, "no key proved within %d ms; letting go", HANDSHAKE_TIMEOUT_MS);
            char why[256];
            snprintf(why, sizeof why,
                     "no key proved within %d ms: plugbayd --remote-role none lets in only hosts that prove one "
                     "(set PLUGBAY_KEY); plugbayd closed this connection", HANDSHAKE_TIMEOUT_MS);
            conn_let_go(b, c, 0, BAY_ETIMEDOUT, why);
        }
    }
    free(all);
}

void conn_close_all(broker *b)
{
    size_t n;
    conn **all = conn_snapshot(b, &n);
    for (size_t i = 0; i < n; i++)
        conn_close(b, all[i]);
    free(all);
    nng_aio_stop(b->rdv_aio);
    nng_aio_free(b->rdv_aio);
    if (strncmp(b->url, "ipc://", 6) == 0)
        unlink(b->url + 6);
    /* The closer finishes the sockets whose peers have gone, for 2 s at most;
     * what a peer still holds (the rendezvous socket too) stays open until the
     * process exits, and the conns stay allocated for their callbacks. */
    conn_closer *cl = b->closer;
    pthread_mutex_lock(&cl->mtx);
    cl->stop = true;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mtx);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    peer_logs_prune(b, bay__now_ms(), true);
    bay__idmap_free(b->peer_logs);
    b->sockets_settled = pthread_timedjoin_np(cl->thread, NULL, &until) == 0;
    if (b->sockets_settled)
        free_closed(cl);
    if (!b->sockets_settled)
        bay__log(BAY_LOG_WARN, NULL, "closing sockets took longer than 2 s; exiting with them open");
    pthread_mutex_lock(&cl->mtx);
    for (conn *c = cl->lingering; c; c = c->next_close)
        if (c->path[0])
            unlink(c->path);
    pthread_mutex_unlock(&cl->mtx);
}

static event *queue_take_all(struct broker_queue *q)
{
    pthread_mutex_lock(&q->mtx);
    event *e = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mtx);
    return e;
}

void conn_drain(broker *b)
{
    uint64_t n;
    ssize_t r = read(b->queue.wake_fd, &n, sizeof n);
    (void)r;
    for (event *e = queue_take_all(&b->queue), *next; e; e = next) {
        next = e->next;
        if (e->session == 0) {
            handle_rendezvous(b, e->msg);
        } else {
            conn *c = conn_get(b, e->session);
            if (c && e->msg)
                handle(b, c, e->msg);
            else if (c)
                removed(b, c);
            else if (e->msg)
                nng_msg_free(e->msg);
        }
        free(e);
    }
}

void conn_on_host_gone(broker *b, host_gone_fn fn)
{
    if (b->nhost_gone < LISTENERS_MAX)
        b->host_gone[b->nhost_gone++] = fn;
}

int conn_queue_init(broker *b)
{
    pthread_mutex_init(&b->queue.mtx, NULL);
    b->queue.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return b->queue.wake_fd < 0 ? BAY_EIO : 0;
}

void conn_queue_free(broker *b)
{
    close(b->queue.wake_fd);
    for (event *e = queue_take_all(&b->queue), *next; e; e = next) {
        next = e->next;
        if (e->msg)
            nng_msg_free(e->msg);
        free(e);
    }
}
