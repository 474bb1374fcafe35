/* bridges/common/fastpath.c — the worker's side of fast channels: admitting hosts, the channel thread, the rings.
 *
 * The worker listens on an abstract-namespace Unix socket (the kernel picks
 * its name). Abstract sockets need no file: the sandbox's Landlock rules do
 * not let a worker make socket files, none is left behind by a crash, and
 * sun_path's 108 bytes never run out. The name grants nothing: a host is
 * admitted only with a one-time token that plugbayd gave to it and to this
 * worker, from the pid plugbayd named. */
#include "fastpath.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "value_convert.h"
#include "wire.h"

#define TOKEN_TTL_MS 10000 /* a token plugbayd issued that no host has used yet */
#define HANDSHAKE_MS 5000  /* a host that connected must send HELLO within this */
#define READ_FRAME_MS 2000 /* a host that began a frame must finish it within this */
#define TOKENS_MAX 16

/* A channel's life: PENDING (connected, no HELLO yet) -> OPEN -> CLOSING
 * (revoked by plugbayd: the call in hand finishes, no new ones) or DEAD (the
 * host went away or broke the rules) -> RETIRED (unmapped; the channel thread
 * closes the socket and frees it). */
typedef enum chan_state { CH_PENDING, CH_OPEN, CH_CLOSING, CH_DEAD, CH_RETIRED } chan_state;

struct bay__chan {
    bay__chan *next;
    int fd;                        /* the host's socket, closed by the channel thread */
    _Atomic int state;             /* a chan_state */
    pid_t host_pid;
    int64_t handshake_until_ns;    /* while CH_PENDING */
    char token[33];                /* the token the host came with, once OPEN */
    void *mem;                     /* the mapped memfd, until RETIRED */
    bay__ring in, out;              /* main thread only */
    int holds;                     /* calls in hand from this channel; main thread only */
    uint64_t upload_id;            /* the call in hand whose input the ring carries, until its END or CANCEL (0:
                                    * none); main thread only: no other frame is read from the ring meanwhile */
    _Atomic uint64_t cancelled_id; /* a call the host cancelled before the main thread took it */
};

/* A host plugbayd admitted, until it connects. */
struct token {
    char token[33];
    pid_t pid;
    int64_t until_ns; /* 0: free slot */
};

static struct {
    _Atomic bool started;   /* the socket listens and the channel thread runs */
    int listen_fd, wake_fd; /* the wake eventfd makes the channel thread look at the list again */
    pthread_t thread;
    char address[64];       /* "@" and the abstract name */
    _Atomic int hang_grace_ms;
    /* under bay__w.lock: */
    bool stopping;
    bool draining;          /* plugbayd asked for a drain: every channel closes, one admitted later too */
    uint64_t drain_id;      /* the channel.drain the main thread answers once no fast call is in hand; 0: none */
    struct token tokens[TOKENS_MAX];
    bay__chan *chans;        /* changed by the channel thread only */
    /* main thread only: */
    bay__spin idle_spin;
    size_t next_start;      /* round robin over the rings */
} fast = {.listen_fd = -1, .wake_fd = -1};

static void wake_channel_thread(void)
{
    uint64_t one = 1;
    ssize_t w = write(fast.wake_fd, &one, sizeof one);
    (void)w;
}

static int chan_alive(void *arg)
{
    return atomic_load(&((bay__chan *)arg)->state) == CH_DEAD ? BAY_ECONN : 0;
}

/* broken drops a channel whose host broke the protocol or stopped reading. The
 * host learns that no more calls are taken there, as from a revoked one: the
 * calls it makes next go through plugbayd instead of waiting on a dead ring. */
static void broken(bay__chan *ch, const char *what, int code)
{
    pthread_mutex_lock(&bay__w.lock);
    if (atomic_load(&ch->state) != CH_RETIRED)
        atomic_store(&ch->state, CH_DEAD);
    if (ch->mem) {
        bay__chan_hdr *h = ch->mem;
        atomic_store(&h->closed, 1);
        bay__bell_ring(&h->to_host.data);
        bay__bell_ring(&h->to_host.space);
    }
    pthread_mutex_unlock(&bay__w.lock);
    shutdown(ch->fd, SHUT_RDWR); /* the host sees it hang up */
    bay__worker_warn("closing the fast channel of host pid %d: %s: %s", ch->host_pid, what, bay_strerror(code));
}

/* ---- I/O thread: plugbayd's commands ------------------------------------- */

static void *chan_main(void *arg);
static int fast_send(bay__chan *ch, const bay__frame *f, const bay_invocation *stream);

/* start installs fast_send as bay__w.fast_send, listens on a new abstract
 * socket and starts the channel thread. Returns 0, or BAY_EIO with the reason in err. */
static int start(bay_error *err)
{
    bay__w.fast_send = fast_send; /* before the channel thread makes the first channel */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    socklen_t len = sizeof(sa_family_t); /* autobind: the kernel picks a unique abstract name */
    fast.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    fast.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fast.listen_fd < 0 || fast.wake_fd < 0 || bind(fast.listen_fd, (struct sockaddr *)&a, len) != 0 ||
        listen(fast.listen_fd, 16) != 0 || (len = sizeof a, getsockname(fast.listen_fd, (struct sockaddr *)&a, &len))) {
        bay_error_set(err, BAY_EIO, NULL, "cannot listen for fast channels on an abstract Unix socket: %s",
                      strerror(errno));
    } else {
        int name_len = (int)(len - offsetof(struct sockaddr_un, sun_path)) - 1;
        snprintf(fast.address, sizeof fast.address, "@%.*s", name_len, a.sun_path + 1);
        int rv = pthread_create(&fast.thread, NULL, chan_main, NULL);
        if (rv == 0) {
            atomic_store(&fast.started, true);
            return 0;
        }
        bay_error_set(err, BAY_EIO, NULL, "cannot start the fast channel thread: %s", strerror(rv));
    }
    if (fast.listen_fd >= 0)
        close(fast.listen_fd);
    if (fast.wake_fd >= 0)
        close(fast.wake_fd);
    fast.listen_fd = fast.wake_fd = -1;
    return BAY_EIO;
}

/* admit registers token for the host with pid; returns 0 or BAY_EBUSY. */
static int admit(const char *token, pid_t pid)
{
    int64_t now = bay__now_ns();
    int rc = BAY_EBUSY;
    pthread_mutex_lock(&bay__w.lock);
    for (int i = 0; i < TOKENS_MAX && rc; i++) {
        struct token *t = &fast.tokens[i];
        if (t->until_ns > now)
            continue;
        snprintf(t->token, sizeof t->token, "%s", token);
        t->pid = pid;
        t->until_ns = now + TOKEN_TTL_MS * 1000000LL;
        rc = 0;
    }
    pthread_mutex_unlock(&bay__w.lock);
    return rc;
}

/* command_args decodes a command's argument map into *args (NULL when it has
 * none). Returns 0, or the failure with the reason in err. */
static int command_args(const bay__frame *f, bay_value **args, bay_error *err)
{
    *args = NULL;
    if (f->value)
        return bay__value_from_object(f->value, args, err);
    return bay_error_set(err, BAY_EPROTO, NULL, "a map of arguments is required");
}

static void channel_open(const bay__frame *f)
{
    bay_value *args;
    bay_error e;
    int rc = command_args(f, &args, &e);
    const char *token = bay_value_str(bay_map_get(args, "token"), NULL);
    const bay_value *pid = bay_map_get(args, "pid");
    if (rc == 0 && (token == NULL || strlen(token) != 32 || bay_value_type(pid) != BAY_INT))
        rc = bay_error_set(&e, BAY_EPROTO, NULL, "needs {\"token\": 32 hex digits, \"pid\": the host's pid}");
    if (rc == 0) {
        atomic_store(&fast.hang_grace_ms, (int)bay_value_int(bay_map_get(args, "hang_grace_ms")));
        if (!atomic_load(&fast.started))
            rc = start(&e);
    }
    if (rc == 0 && (rc = admit(token, (pid_t)bay_value_int(pid))) != 0)
        bay_error_set(&e, rc, NULL, "%d hosts are being admitted at once already; retry", TOKENS_MAX);
    if (rc == 0) {
        bay_value *answer = bay_map();
        bay_map_set(answer, "address", bay_str(fast.address));
        bay__frame r = {.type = BAY_F_RESULT, .id = f->id};
        bay__worker_send(NULL, &r, answer);
        bay_value_free(answer);
    } else {
        bay__worker_error(NULL, f->id, rc, "COMMAND channel.open: %s", e.message);
    }
    bay_value_free(args);
}

/* channel_close revokes the token and the channel opened with it (the main thread retires it). */
static void channel_close(const bay__frame *f)
{
    bay_value *args;
    const char *token = command_args(f, &args, NULL) == 0 ? bay_value_str(bay_map_get(args, "token"), NULL) : NULL;
    pthread_mutex_lock(&bay__w.lock);
    for (int i = 0; token && i < TOKENS_MAX; i++)
        if (strcmp(fast.tokens[i].token, token) == 0)
            fast.tokens[i].until_ns = 0;
    for (bay__chan *ch = fast.chans; token && ch; ch = ch->next)
        if (atomic_load(&ch->state) == CH_OPEN && strcmp(ch->token, token) == 0)
            atomic_store(&ch->state, CH_CLOSING);
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
    if (token == NULL)
        bay__worker_warn("COMMAND channel.close without {\"token\": ...} ignored");
    bay_value_free(args);
}

/* channel_drain closes every channel, as channel.close would, and leaves the
 * answer to the main thread: only it knows when no fast call is in hand. */
static void channel_drain(const bay__frame *f)
{
    if (!atomic_load(&fast.started)) { /* no host ever had a channel: nothing to wait for */
        bay__worker_result(NULL, f->id, NULL);
        return;
    }
    pthread_mutex_lock(&bay__w.lock);
    fast.draining = true;
    for (bay__chan *ch = fast.chans; ch; ch = ch->next)
        if (atomic_load(&ch->state) == CH_OPEN)
            atomic_store(&ch->state, CH_CLOSING);
    fast.drain_id = f->id;
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
}

bool bay__fast_command(const bay__frame *f)
{
    if (strcmp(f->name, "channel.open") == 0)
        channel_open(f);
    else if (strcmp(f->name, "channel.close") == 0)
        channel_close(f);
    else if (strcmp(f->name, "channel.drain") == 0)
        channel_drain(f);
    else
        return false;
    return true;
}

void bay__fast_check_hung(void)
{
    int64_t grace_ns = (int64_t)atomic_load(&fast.hang_grace_ms) * 1000000, over = 0;
    char name[256] = "";
    pthread_mutex_lock(&bay__w.lock);
    for (const bay_invocation *c = bay__w.calls; c && grace_ns > 0 && !name[0]; c = c->outer)
        if (c->chan && c->deadline_ns && (over = bay__now_ns() - c->deadline_ns) > grace_ns)
            snprintf(name, sizeof name, "%s", c->name);
    pthread_mutex_unlock(&bay__w.lock);
    if (!name[0])
        return;
    bay_value *v = bay_map();
    bay_map_set(v, "call", bay_str(name));
    bay_map_set(v, "overdue_ms", bay_int(over / 1000000));
    bay__worker_tell("channel.hung", v);
    bay_value_free(v);
}

/* ---- the channel thread: admission, CANCEL frames, hang-ups --------------- */

/* refuse answers a host's HELLO with an ERROR and drops its connection. */
static void refuse(bay__chan *ch, uint64_t id, int code, const char *why)
{
    bay__frame e = {.type = BAY_F_ERROR, .id = id, .code = code, .plugin = bay__w.id, .message = why};
    bay__chan_send(ch->fd, &e, -1);
    atomic_store(&ch->state, CH_RETIRED);
}

/* take_token consumes the token a host came with; returns the pid plugbayd admitted it from, or 0. */
static pid_t take_token(const char *token)
{
    pid_t pid = 0;
    int64_t now = bay__now_ns();
    pthread_mutex_lock(&bay__w.lock);
    for (int i = 0; i < TOKENS_MAX && !pid; i++) {
        struct token *t = &fast.tokens[i];
        if (t->until_ns > now && strcmp(t->token, token) == 0) {
            pid = t->pid;
            t->until_ns = 0;
        }
    }
    pthread_mutex_unlock(&bay__w.lock);
    return pid;
}

/* map_channel makes the channel's memfd, sealed at its size so the host can
 * never make this worker's mapping fault; returns the fd or -1. */
static int map_channel(bay__chan *ch)
{
    int fd = memfd_create("plugbay-channel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, BAY_CHAN_SIZE) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
        (ch->mem = mmap(NULL, BAY_CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        ch->mem = NULL;
        close(fd);
        return -1;
    }
    bay__chan_init(ch->mem, bay__w.pid);
    bay__chan_rings(ch->mem, true, &ch->in, &ch->out);
    return fd;
}

/* handshake admits the host of a pending channel whose HELLO is f. */
static void handshake(bay__chan *ch, const bay__frame *f)
{
    if (f->type != BAY_F_HELLO || strcmp(f->role, "host") != 0 || f->token == NULL) {
        refuse(ch, f->id, BAY_EPROTO, "a fast channel starts with HELLO from a host, with its token");
        return;
    }
    pid_t admitted = take_token(f->token), peer = admitted ? bay__proc_peer(ch->fd) : 0;
    char why[300];
    if (admitted == 0 || peer != admitted) {
        snprintf(why, sizeof why,
                 "fast channel to %s refused: the token is unknown, used, expired or was issued to another process "
                 "(ask plugbayd for a channel again)",
                 bay__w.id);
        refuse(ch, f->id, BAY_EPERM, why);
        return;
    }
    int memfd = map_channel(ch);
    if (memfd < 0) {
        snprintf(why, sizeof why, "%s cannot make a fast channel's shared memory: %s", bay__w.id, strerror(errno));
        refuse(ch, f->id, BAY_EIO, why);
        return;
    }
    bay__frame welcome = {.type = BAY_F_WELCOME, .id = f->id, .name = bay__w.id, .session = bay__w.pid};
    int rc = bay__chan_send(ch->fd, &welcome, memfd);
    close(memfd);
    pthread_mutex_lock(&bay__w.lock);
    ch->host_pid = peer;
    snprintf(ch->token, sizeof ch->token, "%s", f->token);
    atomic_store(&ch->state, rc != 0 ? CH_DEAD : fast.draining ? CH_CLOSING : CH_OPEN);
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
}

/* host_gone marks a channel whose host hung up and cancels its calls in hand, as plugbayd does over NNG. */
static void host_gone(bay__chan *ch)
{
    pthread_mutex_lock(&bay__w.lock);
    int st = atomic_load(&ch->state);
    atomic_store(&ch->state, st == CH_PENDING ? CH_RETIRED : st == CH_RETIRED ? CH_RETIRED : CH_DEAD);
    bay__bell_ring(&bay__w.bell);
    pthread_mutex_unlock(&bay__w.lock);
    if (st != CH_PENDING)
        bay__w.cancel(ch, BAY_CALLS_ALL, BAY_ECANCELED);
}

/* serve reads one message from a channel's socket: a HELLO while pending, then CANCELs. */
static void serve(bay__chan *ch)
{
    char buf[2048];
    bay__frame f;
    bay_error err;
    int rc = bay__chan_recv(ch->fd, buf, sizeof buf, 0, &f, NULL, &err);
    if (rc == BAY_ETIMEDOUT)
        return;
    if (rc == BAY_ECONN) {
        host_gone(ch);
        return;
    }
    int st = atomic_load(&ch->state);
    if (rc) {
        bay__frame e = {.type = BAY_F_ERROR, .id = f.id, .code = rc, .plugin = bay__w.id, .message = err.message};
        bay__chan_send(ch->fd, &e, -1);
        if (st == CH_PENDING)
            atomic_store(&ch->state, CH_RETIRED);
        return;
    }
    if (st == CH_PENDING)
        handshake(ch, &f);
    else if (f.type == BAY_F_CANCEL && !bay__w.cancel(ch, f.id, f.code))
        atomic_store(&ch->cancelled_id, f.id); /* still in the ring: refused when taken */
    else if (f.type != BAY_F_CANCEL)
        bay__chan_send(ch->fd,
                      &(bay__frame){.type = BAY_F_ERROR, .id = f.id, .code = BAY_EPROTO, .plugin = bay__w.id,
                                   .message = "a fast channel's socket takes CANCEL frames; calls go in its ring"},
                      -1);
    bay__frame_release(&f);
}

/* accept_host takes a new connection as a pending channel. */
static void accept_host(size_t count)
{
    int fd = accept4(fast.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    bay__chan *ch = count < BAY_FAST_CHANNELS_MAX ? calloc(1, sizeof *ch) : NULL;
    if (ch == NULL) {
        char why[128];
        snprintf(why, sizeof why, "%s serves %d fast channels already", bay__w.id, BAY_FAST_CHANNELS_MAX);
        bay__chan_send(fd, &(bay__frame){.type = BAY_F_ERROR, .code = BAY_EBUSY, .plugin = bay__w.id, .message = why},
                      -1);
        close(fd);
        return;
    }
    ch->fd = fd;
    ch->handshake_until_ns = bay__now_ns() + HANDSHAKE_MS * 1000000LL;
    pthread_mutex_lock(&bay__w.lock);
    ch->next = fast.chans;
    fast.chans = ch;
    pthread_mutex_unlock(&bay__w.lock);
}

/* sweep frees retired channels (and, when all, every one) and pending ones
 * past their handshake time; returns how many remain. Lock held. */
static size_t sweep_locked(bool all)
{
    size_t n = 0;
    int64_t now = bay__now_ns();
    for (bay__chan **pp = &fast.chans, *ch; (ch = *pp) != NULL;) {
        int st = atomic_load(&ch->state);
        if (all || st == CH_RETIRED || (st == CH_PENDING && now > ch->handshake_until_ns)) {
            *pp = ch->next;
            if (ch->mem)
                munmap(ch->mem, BAY_CHAN_SIZE);
            close(ch->fd);
            free(ch);
        } else {
            pp = &ch->next;
            n++;
        }
    }
    return n;
}

static void *chan_main(void *arg)
{
    struct pollfd pfd[2 + BAY_FAST_CHANNELS_MAX];
    bay__chan *who[2 + BAY_FAST_CHANNELS_MAX];
    for (;;) {
        size_t n = 2;
        pthread_mutex_lock(&bay__w.lock);
        bool stop = fast.stopping;
        size_t count = sweep_locked(stop);
        for (bay__chan *ch = fast.chans; ch && n < 2 + BAY_FAST_CHANNELS_MAX; ch = ch->next) {
            int st = atomic_load(&ch->state);
            if (st == CH_PENDING || st == CH_OPEN || st == CH_CLOSING) {
                who[n] = ch;
                pfd[n++] = (struct pollfd){.fd = ch->fd, .events = POLLIN};
            }
        }
        pthread_mutex_unlock(&bay__w.lock);
        if (stop)
            return NULL;
        pfd[0] = (struct pollfd){.fd = fast.wake_fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = fast.listen_fd, .events = POLLIN};
        if (poll(pfd, n, 1000) <= 0)
            continue;
        uint64_t wakes;
        if (pfd[0].revents && read(fast.wake_fd, &wakes, sizeof wakes) < 0)
            continue;
        if (pfd[1].revents)
            accept_host(count);
        for (size_t i = 2; i < n; i++)
            if (pfd[i].revents)
                serve(who[i]);
    }
}

/* ---- the main thread: the rings ------------------------------------------ */

/* retire_locked unmaps a channel no call uses any more; a revoked one first
 * tells its host that no more calls are taken. Lock held. */
static void retire_locked(bay__chan *ch)
{
    bay__chan_hdr *h = ch->mem;
    if (atomic_load(&ch->state) == CH_CLOSING) {
        atomic_store(&h->closed, 1);
        bay__bell_ring(&h->to_host.data);
        bay__bell_ring(&h->to_worker.space);
    }
    munmap(ch->mem, BAY_CHAN_SIZE);
    ch->mem = NULL;
    atomic_store(&ch->state, CH_RETIRED);
    wake_channel_thread();
}

/* snapshot retires the channels that can go and writes the open ones to out
 * (but one that carries the input of the call in hand, which reads it
 * itself: a wait nested in that call neither takes nor wakes for it);
 * returns how many. Once no fast call is in hand it answers a drain: the main
 * thread calls it between calls, never while it takes one from a ring. */
static size_t snapshot(bay__chan **out)
{
    size_t n = 0;
    int held = 0;
    pthread_mutex_lock(&bay__w.lock);
    for (bay__chan *ch = fast.chans; ch; ch = ch->next) {
        int st = atomic_load(&ch->state);
        held += ch->holds;
        if ((st == CH_CLOSING || st == CH_DEAD) && ch->holds == 0 && ch->mem)
            retire_locked(ch);
        else if (st == CH_OPEN && ch->upload_id == 0 && n < BAY_FAST_CHANNELS_MAX)
            out[n++] = ch;
    }
    uint64_t drained = held == 0 ? fast.drain_id : 0;
    if (drained)
        fast.drain_id = 0;
    pthread_mutex_unlock(&bay__w.lock);
    if (drained)
        bay__worker_result(NULL, drained, NULL);
    return n;
}

/* A call waiting on its channel's ring: for room for a chunk of its stream, or for its input. */
struct chunk_wait {
    bay__chan *ch;
    const bay_invocation *call;
};

/* chunk_alive ends such a wait when the channel died or its call was stopped (its stop code). */
static int chunk_alive(void *arg)
{
    const struct chunk_wait *cw = arg;
    int rc = chan_alive(cw->ch);
    return rc ? rc : bay__call_stop_code(cw->call);
}

/* read_frame reads one frame from ch's ring as w says into a new message (*m)
 * and decodes it into f, which points into it. Returns 0; the wait's code
 * with nothing read; a frame read whole that does not decode (the reason in e,
 * f's id what could be read: the channel serves on); or the failure that
 * broke the ring, which drops the channel (see ch's state). */
static int read_frame(bay__chan *ch, const bay__ring_wait *w, nng_msg **m, bay__frame *f, bay_error *e,
                      const char *during)
{
    size_t len = 0;
    *m = NULL;
    int rc = bay__ring_read_len(&ch->in, BAY_FRAME_MAX, &len, w);
    if (rc == BAY_ETIMEDOUT || rc == BAY_ECANCELED || (rc == BAY_ECONN && atomic_load(&ch->state) == CH_DEAD))
        return rc; /* nothing read: a stop, or a channel dropped before */
    if (rc == 0 && nng_msg_alloc(m, len) != 0)
        rc = BAY_ENOMEM;
    if (rc == 0) /* a frame begun is read to its end within READ_FRAME_MS, whatever stops its call */
        rc = bay__ring_read(&ch->in, nng_msg_body(*m), len,
                            &(bay__ring_wait){.until_ns = bay__now_ns() + READ_FRAME_MS * 1000000LL,
                                              .alive = chan_alive, .arg = ch});
    if (rc) {
        broken(ch, during, rc);
        nng_msg_free(*m);
        *m = NULL;
        return rc;
    }
    if ((rc = bay__frame_decode(nng_msg_body(*m), len, f, e)) != 0) {
        nng_msg_free(*m);
        *m = NULL;
    }
    return rc;
}

/* stale tells whether frame f is what a host sends after a call's CALL: input
 * (CHUNK, END), or the CANCEL that ends input it abandons. One that comes
 * after its call ended is dropped, as plugbayd drops it. */
static bool stale(const bay__frame *f)
{
    return f->type == BAY_F_CHUNK || f->type == BAY_F_END || f->type == BAY_F_CANCEL;
}

/* read_call reads one frame from ch's ring into a job; the input of a call
 * that ended is skipped, another frame that is not a CALL is answered with an
 * ERROR, and a broken ring drops the channel (NULL each time). */
static bay__job *read_call(bay__chan *ch)
{
    bay__ring_wait w = {.until_ns = bay__now_ns() + READ_FRAME_MS * 1000000LL, .alive = chan_alive, .arg = ch};
    nng_msg *m;
    bay__frame f = {.id = 0};
    bay_error e;
    int rc = read_frame(ch, &w, &m, &f, &e, "reading a frame from its ring");
    if (rc && atomic_load(&ch->state) != CH_DEAD) /* it did not decode: it costs only itself */
        bay__worker_error(ch, f.id, rc, "%s", e.message);
    if (rc)
        return NULL;
    bay__job *j = f.type == BAY_F_CALL ? calloc(1, sizeof *j) : NULL;
    if (j == NULL) {
        if (f.type == BAY_F_CALL)
            bay__worker_error(ch, f.id, BAY_ENOMEM, "%s: %s", f.name, bay_strerror(BAY_ENOMEM));
        else if (!stale(&f))
            bay__worker_error(ch, f.id, BAY_EPROTO, "a fast channel's ring carries CALL frames to the worker and "
                              "their input, not %s", bay__frame_type_name(f.type));
        bay__frame_release(&f);
        nng_msg_free(m);
        return NULL;
    }
    j->f = f;
    j->msg = m;
    j->received_ns = bay__now_ns();
    j->call.chan = ch;
    ch->holds++;
    ch->upload_id = f.input ? f.id : 0;
    return j;
}

bay__job *bay__fast_take(void)
{
    if (!atomic_load(&fast.started))
        return NULL;
    bay__chan *open[BAY_FAST_CHANNELS_MAX];
    size_t n = snapshot(open);
    for (size_t k = 0; k < n; k++) {
        bay__chan *ch = open[(fast.next_start + k) % n];
        int64_t avail = bay__ring_readable(&ch->in);
        if (avail == 0)
            continue;
        fast.next_start += k + 1; /* the next look starts after this ring */
        if (avail < 0) {
            broken(ch, "its ring's write index is impossible", BAY_EPROTO);
            continue;
        }
        bay__job *j = read_call(ch);
        if (j)
            return j;
    }
    return NULL;
}

/* What bay__fast_sleep waits for. */
struct sleeper {
    uint32_t seen;
    bay__chan **open;
    size_t n;
};

static bool woken(void *arg)
{
    const struct sleeper *s = arg;
    if (atomic_load(&bay__w.bell.seq) != s->seen)
        return true;
    for (size_t i = 0; i < s->n; i++)
        if (bay__ring_readable(&s->open[i]->in) != 0)
            return true;
    return false;
}

void bay__fast_sleep(uint32_t seen, int64_t until_ns)
{
    bay__chan *open[BAY_FAST_CHANNELS_MAX];
    bay__bell *bells[BAY_FAST_CHANNELS_MAX + 1] = {&bay__w.bell};
    struct sleeper s = {seen, open, atomic_load(&fast.started) ? snapshot(open) : 0};
    for (size_t i = 0; i < s.n; i++)
        bells[i + 1] = &open[i]->in.ctl->data;
    bay__ring_wait w = {.until_ns = until_ns, .spin = s.n ? &fast.idle_spin : NULL};
    bay__wait_for(woken, &s, bells, s.n + 1, &w);
}

bool bay__fast_cancelled(bay__chan *ch, uint64_t id)
{
    return atomic_load(&ch->cancelled_id) == id;
}

void bay__fast_release(bay__chan *ch)
{
    if (ch == NULL)
        return;
    ch->holds--;
    if (ch->upload_id) { /* its call ended before its input did: the host hears that it may stop sending, and
                          * what is left in the ring is skipped (it carried no other call meanwhile) */
        bay__chan_hdr *h = ch->mem;
        atomic_store(&h->input_over, ch->upload_id);
        bay__bell_ring(&h->to_worker.space);
        ch->upload_id = 0;
    }
}

/* receive_frame takes frame f, read from call's channel during its upload:
 * its next chunk (0 with *chunk set), its END (call->input_ended), or its
 * CANCEL (a host abandoning the input ends it in the ring too, so that the
 * next call's CALL is never read as input). Anything else breaks the channel. */
static int receive_frame(bay_invocation *call, const bay__frame *f, bay_value **chunk)
{
    bay__chan *ch = call->chan;
    bool ours = f->id == call->id;
    if (ours && f->type == BAY_F_CHUNK) {
        bay_error e;
        int rc = f->value ? bay__value_from_object(f->value, chunk, &e) : (*chunk = bay_nil()) ? 0 : BAY_ENOMEM;
        return rc ? bay_call_error(call, rc, "%s: taking a chunk of its input: %s", call->name, bay_strerror(rc)) : 0;
    }
    ch->upload_id = 0;
    if (ours && f->type == BAY_F_END)
        call->input_ended = true;
    else if (ours && f->type == BAY_F_CANCEL)
        bay__w.cancel(ch, call->id, f->code);
    else
        broken(ch, "a frame other than its upload's input came during it", BAY_EPROTO);
    return 0;
}

int bay__fast_receive(bay_invocation *call, bay_value **chunk)
{
    bay__chan *ch = call->chan;
    struct chunk_wait cw = {ch, call};
    bay__ring_wait w = {.until_ns = call->deadline_ns, .alive = chunk_alive, .arg = &cw};
    while (*chunk == NULL && !call->input_ended) {
        int stop = bay__call_stop_code(call); /* an in-ring CANCEL sets it too */
        if (stop)
            return stop;
        if (atomic_load(&ch->state) == CH_DEAD) /* broken here or by the channel thread */
            return bay_call_error(call, BAY_ECONN, "%s: its caller's fast channel closed before its input ended",
                                  call->name);
        nng_msg *m;
        bay__frame f;
        bay_error e;
        int rc = read_frame(ch, &w, &m, &f, &e, "reading an upload's input from its ring");
        if (rc == 0) {
            rc = receive_frame(call, &f, chunk);
            bay__frame_release(&f);
            nng_msg_free(m);
        } else if (bay__call_stop_code(call) || atomic_load(&ch->state) == CH_DEAD) {
            continue; /* a stop, or the channel is gone: said above */
        } else { /* it costs only itself */
            rc = bay_call_error(call, rc, "%s: its caller sent a chunk of input that cannot be read: %s", call->name,
                                e.message);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* fast_send is bay__w.fast_send (send.h): a host that does not read for
 * BAY_FAST_SEND_MS loses its channel; a chunk of a stream waits for room as
 * long as its call may run (the host reads a stream at its own pace). */
static int fast_send(bay__chan *ch, const bay__frame *f, const bay_invocation *stream)
{
    if (atomic_load(&ch->state) == CH_DEAD)
        return BAY_ECONN;
    struct chunk_wait cw = {ch, stream};
    bay__ring_wait w = {.until_ns = bay__now_ns() + BAY_FAST_SEND_MS * 1000000LL, .alive = chan_alive, .arg = ch};
    if (stream)
        w = (bay__ring_wait){.until_ns = stream->deadline_ns, .alive = chunk_alive, .arg = &cw};
    uint64_t start = ch->out.pos;
    int rc = bay__ring_write_frame(&ch->out, f, &w);
    if (rc == BAY_EINVAL || rc == 0)
        return rc;
    if (stream && ch->out.pos == start && rc != BAY_ECONN && rc != BAY_EPROTO)
        return rc; /* stopped (cancel, deadline) before a byte of the chunk was written: the channel serves on */
    broken(ch, stream ? "writing a chunk to its ring" : "writing an answer to its ring", rc);
    return BAY_ECONN;
}

void bay__fast_stop(void)
{
    if (!atomic_load(&fast.started))
        return;
    pthread_mutex_lock(&bay__w.lock);
    for (bay__chan *ch = fast.chans; ch; ch = ch->next) {
        if (atomic_load(&ch->state) == CH_OPEN)
            atomic_store(&ch->state, CH_CLOSING);
        if (ch->mem)
            retire_locked(ch);
    }
    fast.stopping = true;
    pthread_mutex_unlock(&bay__w.lock);
    wake_channel_thread();
    pthread_join(fast.thread, NULL);
    close(fast.listen_fd);
    close(fast.wake_fd);
    atomic_store(&fast.started, false);
}
