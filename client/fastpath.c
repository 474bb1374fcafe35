/* client/fastpath.c — libplugbay's side of fast channels: asking plugbayd, connecting to a worker, calls through the rings. */
#include "fastpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "ring.h"
#include "value_convert.h"

#define HANDSHAKE_MS 2000   /* the worker answers HELLO within this */
#define CRASH_REASON_MS 1000 /* how long a call waits for plugbayd to say why a worker died */
#define END_INPUT_MS 100    /* how long an upload that ends early waits for room to say so in the ring */
#define INPUT_RESERVE 128   /* bytes a chunk of input written whole leaves free in the ring, for the END or CANCEL
                             * that follows it (a frame of 64 bytes), which so never waits for the worker */

/* A channel to one plugin's worker. */
typedef struct chan {
    struct chan *next;
    _Atomic int refs;     /* the table's and each running call's */
    char plugin[128];
    char token[33];
    int fd, pidfd;        /* the worker's socket; a pidfd for its process */
    void *mem;
    bay__ring in, out;     /* the busy call's or stream's */
    pthread_mutex_t mu;   /* guards busy and streaming */
    pthread_cond_t idle;  /* signalled when busy clears */
    bool busy;            /* a call or a stream has the channel: one at a time, taken and given back on any thread */
    bool streaming;       /* the one that has it is a stream, which holds it as long as its reader likes */
    bay__spin spin;
    _Atomic bool broken;  /* the busy one's: a frame was left half written or read (an upload's reader and
                           * writer may both find it) */
    _Atomic bool revoked; /* set under the table's mu, as reason; no new call takes it */
    const _Atomic bool *closing; /* its connection's bay__fast closing: a waiting call ends */
    char reason[300];     /* what plugbayd said when it revoked the channel, or later about its worker */
} chan;

/* A route's channels: a handle's one, an event's one per provider in load
 * order, or none (refused: calls go through plugbayd). A call holds a
 * reference to each of its route's while it runs. */
typedef struct hold {
    bool event;
    size_t n;
    chan *ch[BAY_CHAN_EVENT_MAX];
} hold;

/* What the first call of a name and context found. */
typedef struct route {
    struct route *next;
    hold h;               /* the table's: no references of their own */
    char *context;        /* NULL: none */
    char name[];
} route;

struct bay__fast {
    pthread_mutex_t mu;      /* guards the lists and every chan's revoked and reason */
    pthread_cond_t revoked;  /* broadcast when a notice revokes something */
    pthread_mutex_t opening; /* one channel request at a time */
    uint64_t generation;     /* counts notices: a request that saw one may be stale */
    route *routes;
    chan *chans;             /* open ones, and revoked ones until no call uses them */
    _Atomic bool closing;    /* bay_close began: calls waiting on a channel end with BAY_ECONN */
};

bay__fast *bay__fast_new(void)
{
    const char *env = getenv("PLUGBAY_FASTPATH");
    if (env && strcmp(env, "0") == 0)
        return NULL;
    bay__fast *fp = calloc(1, sizeof *fp);
    if (fp == NULL)
        return NULL;
    pthread_mutex_init(&fp->mu, NULL);
    pthread_mutex_init(&fp->opening, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fp->revoked, &ca);
    pthread_condattr_destroy(&ca);
    return fp;
}

static void chan_unref(chan *ch)
{
    if (ch == NULL || atomic_fetch_sub(&ch->refs, 1) != 1)
        return;
    munmap(ch->mem, BAY_CHAN_SIZE);
    close(ch->fd);
    close(ch->pidfd);
    pthread_cond_destroy(&ch->idle);
    pthread_mutex_destroy(&ch->mu);
    free(ch);
}

/* uses tells whether route r goes to ch. */
static bool uses(const route *r, const chan *ch)
{
    for (size_t i = 0; i < r->h.n; i++)
        if (r->h.ch[i] == ch)
            return true;
    return false;
}

/* forget_routes drops the routes of name (NULL: every name) or to ch (when not NULL). Lock held. */
static void forget_routes_locked(bay__fast *fp, const char *name, const chan *ch)
{
    for (route **rr = &fp->routes, *r; (r = *rr) != NULL;) {
        if ((ch && uses(r, ch)) || (!ch && (name == NULL || strcmp(r->name, name) == 0))) {
            *rr = r->next;
            free(r->context);
            free(r);
        } else {
            rr = &r->next;
        }
    }
}

/* revoke_locked takes ch off every route; calls running on it finish. A
 * channel revoked already only learns the new reason, when there is one
 * (plugbayd says why a worker it was draining died). Lock held. */
static void revoke_locked(bay__fast *fp, chan *ch, const char *reason)
{
    forget_routes_locked(fp, NULL, ch);
    if (!atomic_load(&ch->revoked) || reason[0])
        snprintf(ch->reason, sizeof ch->reason, "%s", reason);
    atomic_store(&ch->revoked, true);
}

/* sweep_locked frees the revoked channels no call uses any more. Lock held. */
static void sweep_locked(bay__fast *fp)
{
    for (chan **cc = &fp->chans, *ch; (ch = *cc) != NULL;) {
        if (atomic_load(&ch->revoked) && atomic_load(&ch->refs) == 1) { /* only the table's is left */
            *cc = ch->next;
            chan_unref(ch);
        } else {
            cc = &ch->next;
        }
    }
}

/* release drops a call's reference to ch (NULL is ignored); the last call on a revoked channel frees it. */
static void release(bay__fast *fp, chan *ch)
{
    if (ch == NULL || !atomic_load_explicit(&ch->revoked, memory_order_relaxed)) {
        chan_unref(ch);
        return;
    }
    pthread_mutex_lock(&fp->mu);
    chan_unref(ch);
    sweep_locked(fp);
    pthread_mutex_unlock(&fp->mu);
}

void bay__fast_free(bay__fast *fp)
{
    if (fp == NULL)
        return;
    for (chan *ch; (ch = fp->chans) != NULL;) {
        fp->chans = ch->next;
        chan_unref(ch);
    }
    forget_routes_locked(fp, NULL, NULL);
    pthread_cond_destroy(&fp->revoked);
    pthread_mutex_destroy(&fp->opening);
    pthread_mutex_destroy(&fp->mu);
    free(fp);
}

bool bay__fast_notice(bay_conn *c, const bay__frame *f)
{
    bay__fast *fp = c->fast;
    if (strcmp(f->what, "channel-revoked") != 0)
        return false;
    if (fp == NULL)
        return true;
    pthread_mutex_lock(&fp->mu);
    fp->generation++;
    if (f->name[0])
        forget_routes_locked(fp, f->name, NULL);
    for (chan *ch = fp->chans; f->plugin[0] && ch; ch = ch->next)
        if (strcmp(ch->plugin, f->plugin) == 0)
            revoke_locked(fp, ch, f->message);
    sweep_locked(fp);
    pthread_cond_broadcast(&fp->revoked);
    pthread_mutex_unlock(&fp->mu);
    return true;
}

static bool same_context(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* copy_hold copies from's channels into to (only as many as it has: calls copy a route's per call). */
static void copy_hold(hold *to, const hold *from)
{
    to->event = from->event;
    to->n = from->n;
    memcpy(to->ch, from->ch, from->n * sizeof *from->ch);
}

/* take copies r's channels into h, with a reference to each. Lock held. */
static void take_locked(const route *r, hold *h)
{
    copy_hold(h, &r->h);
    for (size_t i = 0; i < h->n; i++)
        atomic_fetch_add(&h->ch[i]->refs, 1);
}

/* lookup finds the route of name and context: true with its channels in *h (none for a refused route) when known. */
static bool lookup(bay__fast *fp, const char *name, const char *context, hold *h)
{
    pthread_mutex_lock(&fp->mu);
    route *r = fp->routes;
    while (r && !(strcmp(r->name, name) == 0 && same_context(r->context, context)))
        r = r->next;
    if (r)
        take_locked(r, h);
    pthread_mutex_unlock(&fp->mu);
    return r != NULL;
}

/* add_route records what a request found (h: its channels, none for a refusal) and gives the call its references. Lock held. */
static void add_route_locked(bay__fast *fp, const char *name, const char *context, hold *h)
{
    size_t n = strlen(name) + 1;
    route *r = malloc(sizeof *r + n);
    if (r == NULL) {
        h->n = 0;
        return;
    }
    copy_hold(&r->h, h);
    r->context = context ? strdup(context) : NULL;
    memcpy(r->name, name, n);
    r->next = fp->routes;
    fp->routes = r;
    take_locked(r, h);
}

/* check_memory maps the channel's memfd after checking that the worker
 * sealed its size, so that it can never make this host's mapping fault.
 * Returns the mapping, or NULL with the reason in err. */
static void *check_memory(int memfd, bay_error *err)
{
    struct stat st;
    int seals = fcntl(memfd, F_GET_SEALS);
    if (fstat(memfd, &st) != 0 || seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
        bay_error_set(err, BAY_EPROTO, NULL, "the channel's shared memory is not sealed at its size");
        return NULL;
    }
    void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (mem == MAP_FAILED) {
        bay_error_set(err, BAY_EIO, NULL, "cannot map the channel's shared memory: %s", strerror(errno));
        return NULL;
    }
    if (bay__chan_check(mem, (size_t)st.st_size, err) != 0) {
        munmap(mem, (size_t)st.st_size);
        return NULL;
    }
    return mem;
}

/* dial connects to the worker at address ("@" and an abstract name), says
 * HELLO with token and maps the memfd it answers with. Returns the channel,
 * or NULL; err gets the reason when the grant, the connection, the worker's
 * answer or its memory is at fault. */
static chan *dial(bay_conn *c, const bay_value *grant, bay_error *err)
{
    const char *address = bay_value_str(bay_map_get(grant, "address"), NULL);
    const char *token = bay_value_str(bay_map_get(grant, "token"), NULL);
    const char *plugin = bay_value_str(bay_map_get(grant, "plugin"), NULL);
    pid_t pid = (pid_t)bay_value_int(bay_map_get(grant, "pid"));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t name_len = address ? strlen(address) : 0;
    if (!address || address[0] != '@' || name_len > sizeof a.sun_path || !token || !plugin || pid <= 0) {
        bay_error_set(err, BAY_EPROTO, NULL, "plugbayd's grant lacks an abstract address, a token, a plugin or a pid");
        return NULL;
    }
    memcpy(a.sun_path + 1, address + 1, name_len - 1);
    chan *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return NULL;
    ch->closing = &c->fast->closing;
    ch->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    bay__frame hello = {.type = BAY_F_HELLO, .role = "host", .name = c->name, .pid = getpid(), .token = token}, f;
    char buf[2048];
    int memfd = -1;
    struct ucred peer;
    socklen_t plen = sizeof peer;
    if (ch->fd < 0 || ch->pidfd < 0 ||
        connect(ch->fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len)) != 0 ||
        getsockopt(ch->fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || peer.pid != pid) {
        bay_error_set(err, BAY_ECONN, NULL, "cannot reach %s's worker (pid %d) at %s: %s", plugin, pid, address,
                      strerror(errno));
    } else if (bay__chan_send(ch->fd, &hello, -1) == 0 &&
               bay__chan_recv(ch->fd, buf, sizeof buf, HANDSHAKE_MS, &f, &memfd, err) == 0) {
        if (f.type == BAY_F_ERROR)
            bay_error_set(err, f.code > 0 && f.code <= INT_MAX ? (int)f.code : BAY_EPROTO, f.plugin, "%s", f.message);
        else if (f.type == BAY_F_WELCOME && memfd >= 0)
            ch->mem = check_memory(memfd, err);
        bay__frame_release(&f);
    }
    if (memfd >= 0)
        close(memfd);
    if (ch->mem == NULL) {
        if (ch->fd >= 0)
            close(ch->fd);
        if (ch->pidfd >= 0)
            close(ch->pidfd);
        free(ch);
        return NULL;
    }
    bay__chan_rings(ch->mem, false, &ch->in, &ch->out);
    snprintf(ch->plugin, sizeof ch->plugin, "%s", plugin);
    snprintf(ch->token, sizeof ch->token, "%s", token);
    pthread_mutex_init(&ch->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ch->idle, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&ch->refs, 1); /* the table's */
    return ch;
}

/* chan_closed tells whether ch's worker closed it (no system call: checked before each call). */
static bool chan_closed(const chan *ch)
{
    return atomic_load(&((bay__chan_hdr *)ch->mem)->closed);
}

/* ask_grant asks plugbayd for a channel for name and context (for an event,
 * to its provider number index), in place of the channel of token replace
 * when not NULL; *grant gets the answer. 0 or the request's code. */
static int ask_grant(bay_conn *c, const char *name, const char *context, int64_t index, const char *replace,
                     bay_value **grant)
{
    bay_value *args = bay_map();
    bay_map_set(args, "name", bay_str(name));
    bay_map_set(args, "context", context ? bay_str(context) : bay_nil());
    if (index)
        bay_map_set(args, "provider", bay_int(index));
    if (replace)
        bay_map_set(args, "replace", bay_str(replace));
    bay__frame f = {.type = BAY_F_COMMAND, .name = "channel"};
    void *raw = NULL;
    int rc = bay_value_pack(args, &raw, &f.raw_len);
    f.raw = raw;
    if (rc == 0)
        rc = bay__request(c, &f, BAY_SETUP_TIMEOUT_MS, grant, NULL);
    free(raw);
    bay_value_free(args);
    return rc;
}

/* grant_channel asks plugbayd for a channel for name and context (for an
 * event, to its provider number index) and connects to it, or finds the
 * channel of the same grant. A grant whose channel its worker closed (which
 * plugbayd does not hear of: the worker drops the channel of a host that
 * broke its rules or did not read in time) is asked for again in its place,
 * once. Returns the channel, which the table holds, or NULL; *providers is
 * how many the event has (0 for a handle). The caller holds fp->opening:
 * only it adds channels. */
static chan *grant_channel(bay_conn *c, const char *name, const char *context, int64_t index, size_t *providers)
{
    bay__fast *fp = c->fast;
    chan *ch = NULL;
    char replace[sizeof ch->token] = "";
    *providers = 0;
    for (int asked = 0; ch == NULL && asked < 2; asked++) {
        bay_value *grant = NULL;
        int rc = ask_grant(c, name, context, index, replace[0] ? replace : NULL, &grant);
        const char *token = rc == 0 ? bay_value_str(bay_map_get(grant, "token"), NULL) : NULL;
        int64_t n = bay_value_int(bay_map_get(grant, "providers"));
        *providers = n > 0 ? (size_t)n : 0;
        pthread_mutex_lock(&fp->mu);
        for (ch = token ? fp->chans : NULL; ch && strcmp(ch->token, token) != 0; ch = ch->next)
            ;
        bool dead = ch && (atomic_load(&ch->revoked) || chan_closed(ch));
        pthread_mutex_unlock(&fp->mu);
        if (dead)
            ch = NULL;
        else if (ch == NULL && token && (ch = dial(c, grant, NULL)) != NULL) {
            pthread_mutex_lock(&fp->mu);
            ch->next = fp->chans;
            fp->chans = ch;
            pthread_mutex_unlock(&fp->mu);
        }
        if (token) /* a grant whose channel is dead, or whose token its worker refused (used: the channel is gone) */
            snprintf(replace, sizeof replace, "%s", token);
        bay_value_free(grant);
        if (token == NULL)
            break; /* refused: the calls go through plugbayd */
    }
    return ch;
}

/* open_route asks plugbayd for the channels of name and context (a handle's
 * one, an event's one per provider), connects, and records the route; *h
 * gets its channels (none when the calls go through plugbayd). */
static void open_route(bay_conn *c, const char *name, const char *context, hold *h)
{
    bay__fast *fp = c->fast;
    pthread_mutex_lock(&fp->opening);
    if (lookup(fp, name, context, h)) { /* another thread opened it meanwhile */
        pthread_mutex_unlock(&fp->opening);
        return;
    }
    pthread_mutex_lock(&fp->mu);
    uint64_t generation = fp->generation;
    pthread_mutex_unlock(&fp->mu);
    size_t providers = 0, again = 0;
    hold found = {.n = 0};
    chan *ch = grant_channel(c, name, context, 0, &providers);
    bool ok = ch && providers <= BAY_CHAN_EVENT_MAX;
    if (ok)
        found.ch[found.n++] = ch;
    for (size_t i = 1; ok && i < providers; i++) {
        /* the event's providers in load order: each grant says how many there are, which must not change meanwhile */
        ok = (ch = grant_channel(c, name, context, (int64_t)i, &again)) != NULL && again == providers;
        if (ok)
            found.ch[found.n++] = ch;
    }
    found.event = providers > 0;
    if (!ok)
        found.n = 0;
    pthread_mutex_lock(&fp->mu);
    if (generation == fp->generation) /* no notice came while plugbayd was asked */
        add_route_locked(fp, name, context, &found);
    else
        found.n = 0;
    pthread_mutex_unlock(&fp->mu);
    pthread_mutex_unlock(&fp->opening);
    copy_hold(h, &found);
}

/* The outcomes of a wait on a channel besides 0 and BAY_ETIMEDOUT. */
enum { GONE_CLOSED = -1, GONE_DEAD = -2, GONE_CLOSING = -3 };

/* worker_alive tells a waiting call whether the worker still takes calls, and
 * whether the connection is being closed (which ends the wait first). A
 * channel closed counts before a worker gone: a worker drained by a reload or
 * an unload closes its channels, then exits, and a call it did not take then
 * goes through plugbayd instead of failing as if it had crashed. */
static int worker_alive(void *arg)
{
    chan *ch = arg;
    if (atomic_load(ch->closing))
        return GONE_CLOSING;
    if (chan_closed(ch))
        return GONE_CLOSED;
    struct pollfd p = {.fd = ch->pidfd, .events = POLLIN};
    return poll(&p, 1, 0) > 0 ? GONE_DEAD : 0;
}

/* crashed fills err for a call whose worker died, with the reason plugbayd
 * gives (waiting a little for it: a channel revoked when its plugin began
 * unloading has no reason until plugbayd says why the worker died). */
static int crashed(bay_conn *c, chan *ch, const char *name, int64_t deadline_ns, bay_error *err)
{
    bay__fast *fp = c->fast;
    int64_t until = bay__now_ns() + CRASH_REASON_MS * 1000000LL;
    if (until > deadline_ns)
        until = deadline_ns;
    struct timespec ts = {until / 1000000000, until % 1000000000};
    pthread_mutex_lock(&fp->mu);
    while (!(ch->revoked && ch->reason[0]) && pthread_cond_timedwait(&fp->revoked, &fp->mu, &ts) == 0)
        ;
    bay_error_set(err, BAY_ECRASHED, ch->plugin, "%s failed during %s: %s", ch->plugin, name,
                  ch->revoked && ch->reason[0] ? ch->reason : "its worker died");
    pthread_mutex_unlock(&fp->mu);
    return BAY_ECRASHED;
}

/* take_answer turns the answer frame f into the call's outcome. */
static int take_answer(const bay__frame *f, chan *ch, bay_value **result, bay_error *err)
{
    if (f->type == BAY_F_ERROR)
        return bay_error_set(err, f->code > 0 && f->code <= INT_MAX ? (int)f->code : BAY_EPROTO, f->plugin,
                             "%s", f->message);
    if (f->type == BAY_F_RESULT && result == NULL)
        return 0; /* the caller wants no value */
    bay_error e;
    int rc = f->type != BAY_F_RESULT ? BAY_EPROTO
             : f->value             ? bay__value_from_object(f->value, result, &e)
             : (*result = bay_nil()) ? 0
                                    : bay__value_nomem(&e);
    if (rc)
        bay_error_set(err, rc, ch->plugin, "%s's worker sent an unreadable answer: %s", ch->plugin,
                      f->type != BAY_F_RESULT ? bay__frame_type_name(f->type) : e.message);
    return rc;
}

/* await reads frames until the answer to id; a stale answer (of a call that
 * timed out before) is skipped. Returns 0 with the answer's outcome in
 * *answer (a code the plugin gave, BAY_ETIMEDOUT and BAY_EINVAL too, is the
 * call's outcome, not the channel's), or the channel's failure: BAY_ETIMEDOUT
 * when the deadline passed, GONE_* codes, an unreadable frame's code. */
static int await(chan *ch, uint64_t id, int64_t deadline_ns, bay_value **result, bay_error *err, int *answer)
{
    bay__ring_wait w = {.until_ns = deadline_ns, .alive = worker_alive, .arg = ch, .spin = &ch->spin};
    for (;;) {
        size_t len;
        void *buf = NULL;
        int rc = bay__ring_read_len(&ch->in, BAY_FRAME_MAX, &len, &w);
        if (rc == 0 && (buf = malloc(len)) == NULL) {
            rc = BAY_ENOMEM;
            ch->broken = true; /* its word read, its bytes not */
        }
        if (rc == 0 && (rc = bay__ring_read(&ch->in, buf, len, &w)) != 0)
            ch->broken = true; /* half a frame read */
        if (rc) {
            free(buf);
            return rc;
        }
        bay__frame f;
        bay_error e;
        rc = bay__frame_decode(buf, len, &f, &e);
        if (rc == 0 && f.id == id)
            *answer = take_answer(&f, ch, result, err);
        else if (rc)
            bay_error_set(err, rc, ch->plugin, "%s's worker sent an unreadable frame: %s", ch->plugin, e.message);
        bool ours = rc != 0 || f.id == id;
        bay__frame_release(&f);
        free(buf);
        if (ours)
            return rc;
    }
}

/* How a call or stream takes a channel (chan_take). */
enum take { TAKE_CALL, TAKE_STREAM, TAKE_WAIT };

/* The outcome of chan_take. */
enum taken { TAKEN, TAKE_ELSEWHERE, STAYED_BUSY };

/* chan_take makes ch busy for one call (how is TAKE_CALL or, for a later
 * provider of an event, TAKE_WAIT) or one stream (TAKE_STREAM), waiting for
 * the call before it until deadline_ns. A stream may hold the channel as long
 * as its reader likes, and its reader may be this very thread: a call or
 * stream other than TAKE_WAIT does not wait for one, TAKE_ELSEWHERE tells it
 * to go through plugbayd. STAYED_BUSY sets *rc and err. */
static enum taken chan_take(chan *ch, enum take how, const char *name, int64_t deadline_ns, int timeout_ms,
                            bay_error *err, int *rc)
{
    struct timespec ts = {deadline_ns / 1000000000, deadline_ns % 1000000000};
    pthread_mutex_lock(&ch->mu);
    bool leave = false;
    while (ch->busy && !(leave = ch->streaming && how != TAKE_WAIT) &&
           pthread_cond_clockwait(&ch->idle, &ch->mu, CLOCK_MONOTONIC, &ts) == 0)
        ;
    bool took = !ch->busy;
    if (took) {
        ch->busy = true;
        ch->streaming = how == TAKE_STREAM;
        if (ch->streaming) /* those waiting for it go elsewhere now */
            pthread_cond_broadcast(&ch->idle);
    }
    pthread_mutex_unlock(&ch->mu);
    if (took)
        return TAKEN;
    if (leave)
        return TAKE_ELSEWHERE;
    *rc = bay_error_set(err, BAY_ETIMEDOUT, ch->plugin,
                        "%s did not answer %s before the call's deadline: its channel stayed busy with other "
                        "calls of this host for %d ms", ch->plugin, name, timeout_ms);
    return STAYED_BUSY;
}

/* held_by_stream tells whether a stream holds ch now. */
static bool held_by_stream(chan *ch)
{
    pthread_mutex_lock(&ch->mu);
    bool streaming = ch->streaming;
    pthread_mutex_unlock(&ch->mu);
    return streaming;
}

/* chan_give ends the busy call's or stream's hold on ch: the next one may take it. */
static void chan_give(chan *ch)
{
    pthread_mutex_lock(&ch->mu);
    ch->busy = false;
    ch->streaming = false;
    pthread_cond_signal(&ch->idle);
    pthread_mutex_unlock(&ch->mu);
}

/* through_broker tells whether a call whose channel failed with out must go
 * through plugbayd: too large for the ring, or written to a channel its worker
 * closed without taking it. */
static bool through_broker(chan *ch, int out)
{
    return out == BAY_EINVAL || (out == GONE_CLOSED && bay__ring_consumed(&ch->out) != ch->out.pos);
}

/* forget takes ch, which broke or which its worker closed, off its routes:
 * their next call asks plugbayd again (a worker drops a channel whose host
 * broke its rules or did not read in time, and tells nobody but the host). */
static void forget(bay__fast *fp, chan *ch)
{
    pthread_mutex_lock(&fp->mu);
    revoke_locked(fp, ch, "");
    pthread_mutex_unlock(&fp->mu);
}

/* send_call writes CALL f with a new id on ch, which it holds busy; false when
 * the call must go through plugbayd (the channel closed or broke before, or
 * the frame is over the ring's limits). Else *out is 0 or the channel's failure. */
static bool send_call(bay_conn *c, chan *ch, bay__frame *f, int64_t deadline, int *out)
{
    /* Whether the worker lives is asked only of a call that waits past the spin (a poll of its pidfd costs more than
     * the call): one sent to a dead worker fails as crashed from there. */
    if (ch->broken || chan_closed(ch)) {
        forget(c->fast, ch);
        return false;
    }
    f->id = atomic_fetch_add(&c->next_id, 1);
    bay__ring_wait w = {.until_ns = deadline, .alive = worker_alive, .arg = ch};
    uint64_t start = ch->out.pos;
    *out = bay__ring_write_frame(&ch->out, f, &w);
    ch->broken |= *out != 0 && ch->out.pos != start;
    return !through_broker(ch, *out);
}

/* run makes call f on ch, taken as how says; false when it must go through plugbayd. */
static bool run(bay_conn *c, chan *ch, enum take how, bay__frame *f, int timeout_ms, bay_value **result,
                bay_error *err, int *rc)
{
    int64_t deadline = bay__now_ns() + (int64_t)timeout_ms * 1000000;
    enum taken t = chan_take(ch, how, f->name, deadline, timeout_ms, err, rc);
    if (t != TAKEN)
        return t == STAYED_BUSY;
    int out = 0, answer = 0;
    if (!send_call(c, ch, f, deadline, &out)) {
        chan_give(ch);
        return false;
    }
    if (out == 0)
        out = await(ch, f->id, deadline, result, err, &answer);
    bool via_broker = through_broker(ch, out);
    chan_give(ch);
    if (out == BAY_ETIMEDOUT) {
        bay__chan_send(ch->fd, &(bay__frame){.type = BAY_F_CANCEL, .id = f->id, .code = BAY_ETIMEDOUT}, -1);
        *rc = bay_error_set(err, BAY_ETIMEDOUT, ch->plugin, "%s did not answer %s before the call's deadline; it was cancelled",
                            ch->plugin, f->name);
    } else if (out == GONE_DEAD) {
        *rc = crashed(c, ch, f->name, deadline, err);
    } else if (out == GONE_CLOSING) {
        /* The worker may have the call: it hears that its caller went away, as through plugbayd. */
        bay__chan_send(ch->fd, &(bay__frame){.type = BAY_F_CANCEL, .id = f->id, .code = BAY_ECANCELED}, -1);
        *rc = bay_error_set(err, BAY_ECONN, NULL, "connection to plugbayd at %s closed by bay_close during %s",
                            c->url, f->name);
    } else if (out == GONE_CLOSED) {
        /* Revoked: a call the worker did not take goes through plugbayd; one it took was answered before. */
        *rc = bay_error_set(err, BAY_EUNAVAIL, ch->plugin, "%s closed its fast channel during %s without answering it",
                            ch->plugin, f->name);
    } else {
        *rc = out ? out : answer;
    }
    return !via_broker;
}

void bay__fast_close(bay__fast *fp)
{
    if (fp)
        atomic_store(&fp->closing, true);
}

/* gather_error adds to event outcome entry the error code with its message. */
static void gather_error(bay_value *entry, int code, const char *message)
{
    bay_value *e = bay_map();
    bay_map_set(e, "code", bay_int(code));
    bay_map_set(e, "name", bay_str(bay_errname(code)));
    bay_map_set(e, "message", bay_str(message));
    bay_map_set(entry, "error", e);
}

/* fan_out calls event f on each of h's channels in load order within one
 * deadline and gathers each provider's outcome as plugbayd does:
 * [{"plugin": ID, "value": V} or {"plugin": ID, "error": {"code", "name",
 * "message"}}, ...]. Returns false, having sent nothing, when a stream
 * holds one of the channels or the first provider's channel closed before
 * that worker took the event: it goes through plugbayd then; a later one's
 * closing is that provider's EUNAVAIL. */
static bool fan_out(bay_conn *c, const hold *h, bay__frame *f, int timeout_ms, bay_value **result, bay_error *err,
                    int *rc)
{
    for (size_t i = 1; i < h->n; i++)
        if (held_by_stream(h->ch[i]))
            return false; /* the first one's is seen as it is taken */
    int64_t deadline = bay__now_ns() + (int64_t)timeout_ms * 1000000;
    bay_value *all = bay_array();
    for (size_t i = 0; all && i < h->n; i++) {
        chan *ch = h->ch[i];
        bay_value *v = NULL, *entry = bay_map();
        bay_error e;
        int code = 0;
        int64_t left = deadline - bay__now_ns();
        if (left <= 0) {
            code = bay_error_set(&e, BAY_ETIMEDOUT, ch->plugin, "not called: the event's deadline passed first");
        } else if (!run(c, ch, i ? TAKE_WAIT : TAKE_CALL, f, (int)((left + 999999) / 1000000), &v, &e, &code)) {
            if (i == 0) {
                bay_value_free(entry);
                bay_value_free(all);
                return false;
            }
            code = bay_error_set(&e, BAY_EUNAVAIL, ch->plugin, "%s cannot serve %s: its fast channel closed",
                                 ch->plugin, f->name);
        } else if (code == BAY_ECONN && atomic_load(&c->fast->closing)) {
            /* bay_close: the event ends there, as it does through plugbayd */
            bay_value_free(entry);
            bay_value_free(all);
            *rc = bay_error_set(err, code, NULL, "%s", e.message);
            return true;
        }
        bay_map_set(entry, "plugin", bay_str(ch->plugin));
        if (code == 0)
            bay_map_set(entry, "value", v ? v : bay_nil());
        else
            gather_error(entry, code, e.message);
        if (code)
            bay_value_free(v);
        bay_array_push(all, entry);
    }
    *rc = all ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory gathering event %s", f->name);
    if (result)
        *result = all;
    else
        bay_value_free(all);
    return true;
}

/* find_route gives h the channels of f's name and context, with a reference to each, asking plugbayd the first
 * time; none while c is down or when calls go through plugbayd. */
static void find_route(bay_conn *c, const bay__frame *f, hold *h)
{
    pthread_mutex_lock(&c->mu);
    bool up = c->down == NULL;
    pthread_mutex_unlock(&c->mu);
    h->event = false; /* not zeroed whole: a call copies in only the channels its route has */
    h->n = 0;
    if (up && !lookup(c->fast, f->name, f->context, h))
        open_route(c, f->name, f->context, h);
}

bool bay__fast_call(bay_conn *c, bay__frame *f, int timeout_ms, bay_value **result, bay_error *err, int *rc)
{
    if (c->fast == NULL)
        return false;
    bay__conn_enter(c);
    hold h;
    find_route(c, f, &h);
    bool handled = h.n && (h.event ? fan_out(c, &h, f, timeout_ms, result, err, rc)
                                   : run(c, h.ch[0], TAKE_CALL, f, timeout_ms, result, err, rc));
    for (size_t i = 0; i < h.n; i++)
        release(c->fast, h.ch[i]);
    bay__conn_leave(c);
    return handled;
}

/* ---- streams: an answer read chunk by chunk from the ring, input written to it ---- */

/* A stream on a fast channel holds the channel busy from its CALL to its
 * answer; its reader reads the ring itself as bay_stream_next is called, so
 * the ring is the back-pressure: the worker waits for room. An upload's
 * writer writes its input to the other ring behind the CALL, and waits for
 * room there in turn; the worker's call reads it. */
struct bay__fast_stream {
    bay_conn *conn;
    chan *ch;               /* the reader's: NULL once the stream ended and gave the channel back */
    uint64_t id;
    int64_t deadline_ns;
    int timeout_ms;
    bool input;             /* an upload */
    pthread_mutex_t mu;     /* one reader at a time; guards what follows */
    int code;               /* how it ended (0: its answer came, or it runs) */
    bay_error err;
    _Atomic bool cancelled; /* bay_stream_cancel: the reader's wait ends at its next slice */
    _Atomic bool over;      /* it ended (code and err are set): a writer waiting for room stops */
    pthread_mutex_t send_mu; /* one writer of its input at a time; guards what follows */
    chan *held;             /* the writer's view of the channel: NULL once it was given back */
    bool input_done;        /* its END or CANCEL is in the ring, or a chunk was left half written there */
    char name[];
};

/* The outcomes of a stream's wait besides those of a call's: bay_stream_cancel ended it, or it ended. */
enum { GONE_CANCELLED = -4, GONE_OVER = -5 };

static int stream_alive(void *arg)
{
    bay__fast_stream *s = arg;
    return atomic_load(&s->cancelled) ? GONE_CANCELLED : worker_alive(s->ch);
}

/* stream_cancel tells s's worker, at the other end of ch, to stop s, without waiting. */
static void stream_cancel(const bay__fast_stream *s, chan *ch, int why)
{
    bay__chan_send(ch->fd, &(bay__frame){.type = BAY_F_CANCEL, .id = s->id, .code = why}, -1);
}

/* end_input writes CANCEL behind what an upload wrote to ch, when its input
 * has not ended: the worker stops taking input there, and the channel's next
 * CALL is never read as this one's input. A channel whose ring has no room
 * for it soon is not used again. Under s->send_mu. */
static void end_input(bay__fast_stream *s, chan *ch, int code)
{
    if (!s->input || s->input_done || atomic_load(&ch->broken))
        return;
    bay__frame f = {.type = BAY_F_CANCEL, .id = s->id, .code = code == BAY_ETIMEDOUT ? BAY_ETIMEDOUT : BAY_ECANCELED};
    bay__ring_wait w = {.until_ns = bay__now_ns() + END_INPUT_MS * 1000000LL, .alive = worker_alive, .arg = ch};
    if (bay__ring_write_frame(&ch->out, &f, &w) != 0)
        atomic_store(&ch->broken, true);
    s->input_done = true;
}

/* stream_end ends s with code (its message in e, when code is not 0), and gives its channel back. Under s->mu. */
static void stream_end(bay__fast_stream *s, int code, const bay_error *e)
{
    s->code = code;
    if (code)
        s->err = *e;
    chan *ch = s->ch;
    s->ch = NULL;
    atomic_store(&s->over, true); /* a writer waiting for room lets go of send_mu within a slice */
    pthread_mutex_lock(&s->send_mu);
    end_input(s, ch, code);
    s->held = NULL;
    pthread_mutex_unlock(&s->send_mu);
    chan_give(ch);
    release(s->conn->fast, ch);
}

/* gone describes in e the failure out of s's channel (a GONE_* code, BAY_ETIMEDOUT at its deadline, another code
 * of the ring, or of a frame the worker should not have written, unless e has one already); a cancel, the deadline,
 * bay_close and a broken ring tell the worker to stop, and a broken ring or a lying worker costs the channel. */
static void gone(bay__fast_stream *s, chan *ch, int out, bay_error *e)
{
    if (out == BAY_ETIMEDOUT) {
        stream_cancel(s, ch, BAY_ETIMEDOUT);
        bay_error_set(e, BAY_ETIMEDOUT, ch->plugin, "%s did not end its stream of %s before the call's deadline "
                      "(%d ms); it was cancelled", ch->plugin, s->name, s->timeout_ms);
    } else if (out == GONE_CANCELLED) {
        stream_cancel(s, ch, BAY_ECANCELED);
        bay_error_set(e, BAY_ECANCELED, ch->plugin, "%s was cancelled by the caller", s->name);
    } else if (out == GONE_DEAD) {
        crashed(s->conn, ch, s->name, s->deadline_ns, e);
    } else if (out == GONE_CLOSING) {
        stream_cancel(s, ch, BAY_ECANCELED);
        bay_error_set(e, BAY_ECONN, NULL, "connection to plugbayd at %s closed by bay_close during %s", s->conn->url,
                      s->name);
    } else if (out == GONE_CLOSED) {
        bay_error_set(e, BAY_EUNAVAIL, ch->plugin, "%s closed its fast channel during %s without ending it",
                      ch->plugin, s->name);
    } else { /* the ring failed, or the worker wrote what no worker may: the channel is not used again */
        atomic_store(&ch->broken, true);
        stream_cancel(s, ch, BAY_ECANCELED);
        if (e->code != out)
            bay_error_set(e, out, ch->plugin, "%s's fast channel broke during %s: %s", ch->plugin, s->name,
                          bay_strerror(out));
    }
}

/* stream_failed ends s after the channel's failure out (as gone takes it). */
static void stream_failed(bay__fast_stream *s, int out, bay_error *e)
{
    gone(s, s->ch, out, e);
    stream_end(s, e->code, e);
}

/* read_frame reads s's next frame from its ring within until_ns (the body of
 * a frame begun: within the stream's deadline) into *buf and f; 0, or the
 * ring's code. */
static int read_frame(bay__fast_stream *s, int64_t until_ns, void **buf, bay__frame *f, bay_error *e)
{
    chan *ch = s->ch;
    bay__ring_wait w = {.until_ns = until_ns, .alive = stream_alive, .arg = s, .spin = &ch->spin};
    size_t len;
    *buf = NULL;
    int rc = bay__ring_read_len(&ch->in, BAY_FRAME_MAX, &len, &w);
    if (rc == 0 && (*buf = malloc(len)) == NULL) {
        ch->broken = true; /* its word read, its bytes not */
        return bay_error_set(e, BAY_ENOMEM, NULL, "out of memory reading a chunk of %s", s->name);
    }
    w.until_ns = s->deadline_ns;
    if (rc == 0 && (rc = bay__ring_read(&ch->in, *buf, len, &w)) != 0)
        ch->broken = true; /* half a frame read */
    if (rc == 0 && (rc = bay__frame_decode(*buf, len, f, e)) != 0)
        bay_error_set(e, rc, ch->plugin, "%s's worker sent an unreadable frame: %s", ch->plugin, e->message);
    else if (rc > 0 && rc != BAY_ETIMEDOUT)
        bay_error_set(e, rc, ch->plugin, "%s's fast channel broke during %s: %s", ch->plugin, s->name,
                      bay_strerror(rc));
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

bool bay__fast_stream_open(bay_conn *c, bay__frame *f, int timeout_ms, bay__fast_stream **out, bay_error *err,
                           int *rc)
{
    if (c->fast == NULL)
        return false;
    bay__conn_enter(c);
    hold h;
    find_route(c, f, &h);
    size_t len = strlen(f->name) + 1;
    bay__fast_stream *s = h.n == 1 && !h.event ? calloc(1, sizeof *s + len) : NULL;
    int64_t deadline = bay__now_ns() + (int64_t)timeout_ms * 1000000;
    int sent = 0;
    bool handled = false;
    enum taken t = s ? chan_take(h.ch[0], TAKE_STREAM, f->name, deadline, timeout_ms, err, rc) : TAKE_ELSEWHERE;
    if (t == TAKEN) {
        handled = send_call(c, h.ch[0], f, deadline, &sent);
        if (!handled)
            chan_give(h.ch[0]);
    } else if (t == STAYED_BUSY) { /* *rc says so */
        handled = true;
        free(s);
        s = NULL;
    }
    if (handled && s) {
        *s = (bay__fast_stream){.conn = c, .ch = h.ch[0], .id = f->id, .deadline_ns = deadline,
                                .timeout_ms = timeout_ms, .input = f->input != 0, .held = h.ch[0]};
        memcpy(s->name, f->name, len);
        pthread_mutex_init(&s->mu, NULL);
        pthread_mutex_init(&s->send_mu, NULL);
        h.n = 0; /* the stream keeps the channel's reference */
        if (sent) {
            bay_error e = {.code = 0};
            stream_failed(s, sent, &e); /* the answer is this error */
        }
        bay__conn_hold(c);
        *out = s;
        *rc = 0;
    } else {
        free(s);
    }
    for (size_t i = 0; i < h.n; i++)
        release(c->fast, h.ch[i]);
    bay__conn_leave(c);
    return handled;
}

int bay__fast_stream_next(bay__fast_stream *s, int wait_ms, bay_value **chunk, bay_error *err)
{
    pthread_mutex_lock(&s->mu);
    int64_t until = wait_ms < 0 ? s->deadline_ns : bay__now_ns() + (int64_t)wait_ms * 1000000;
    if (until > s->deadline_ns)
        until = s->deadline_ns;
    int rc = 0;
    while (s->ch) {
        void *buf;
        bay__frame f;
        bay_error e;
        e.code = 0;
        /* A cancel, bay_close and the deadline end the stream here even while chunks keep coming (a wait notices
         * them at its next slice, or at its end). */
        int out = atomic_load(&s->cancelled)          ? GONE_CANCELLED
                  : atomic_load(s->ch->closing)       ? GONE_CLOSING
                  : bay__now_ns() >= s->deadline_ns ? BAY_ETIMEDOUT
                                                    : read_frame(s, until, &buf, &f, &e);
        if (out == BAY_ETIMEDOUT && bay__now_ns() < s->deadline_ns) {
            rc = bay_error_set(err, BAY_EPENDING, NULL, "no chunk of %s within %d ms; the stream goes on", s->name,
                               wait_ms);
            break;
        }
        if (out) {
            stream_failed(s, out, &e);
            break;
        }
        if (f.id == s->id && f.type == BAY_F_CHUNK) {
            out = f.value ? bay__value_from_object(f.value, chunk, &e) : (*chunk = bay_nil()) ? 0 : bay__value_nomem(&e);
            if (out)
                stream_end(s, out, &e);
        } else if (f.id == s->id && f.type != BAY_F_RESULT && f.type != BAY_F_ERROR) {
            stream_failed(s, bay_error_set(&e, BAY_EPROTO, s->ch->plugin, "%s's worker answered %s with %s",
                                           s->ch->plugin, s->name, bay__frame_type_name(f.type)), &e);
        } else if (f.id == s->id) { /* the answer: a RESULT's value other than nil is the last chunk */
            bay_value *last = NULL;
            out = take_answer(&f, s->ch, &last, &e);
            if (out == 0 && last && bay_value_type(last) != BAY_NIL)
                *chunk = last;
            else
                bay_value_free(last);
            stream_end(s, out, &e);
        } /* else a frame of a call abandoned before: skipped */
        bay__frame_release(&f);
        free(buf);
        if (*chunk || s->ch == NULL)
            break;
    }
    if (rc == 0 && *chunk == NULL && s->code) {
        rc = s->code;
        if (err)
            *err = s->err;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* input_over tells whether s's worker said that its call ended before its input did. */
static bool input_over(const bay__fast_stream *s)
{
    const bay__chan_hdr *h = s->held->mem;
    return atomic_load(&h->input_over) == s->id;
}

/* send_alive ends an upload writer's wait for room when its stream or its call ended, it was cancelled, or its
 * worker went. */
static int send_alive(void *arg)
{
    bay__fast_stream *s = arg;
    return atomic_load(&s->over) || input_over(s) ? GONE_OVER
           : atomic_load(&s->cancelled)          ? GONE_CANCELLED
                                                 : worker_alive(s->held);
}

/* write_input writes f, a frame of s's input, to ring r, waiting as w says; a chunk written whole leaves
 * INPUT_RESERVE bytes free behind it. */
static int write_input(bay__ring *r, const bay__frame *f, bool streams, const bay__ring_wait *w)
{
    int rc = f->type == BAY_F_CHUNK && !streams
                 ? bay__ring_wait_room(r, f->raw_len + BAY_RING_ALIGN + INPUT_RESERVE, w)
                 : 0;
    return rc ? rc : bay__ring_write_frame(r, f, w);
}

int bay__fast_stream_send(bay__fast_stream *s, bay__frame *f, int wait_ms, bay_error *err)
{
    pthread_mutex_lock(&s->send_mu);
    chan *ch = s->held;
    /* A chunk that cannot be written whole streams through the ring as the worker reads it: once begun, it is
     * written to its end, as long as the call may take; a send that may not wait does not begin it. */
    bool streams = f->raw_len > BAY_RING_CAP - 256;
    int64_t until = wait_ms < 0 ? s->deadline_ns : bay__now_ns() + (int64_t)wait_ms * 1000000;
    if (until > s->deadline_ns || streams)
        until = s->deadline_ns;
    f->id = s->id;
    bay__ring_wait w = {.until_ns = until, .alive = send_alive, .arg = s};
    uint64_t start = ch ? ch->out.pos : 0;
    int out = ch == NULL || s->input_done || input_over(s) ? GONE_OVER
              : streams && wait_ms == 0                    ? BAY_ETIMEDOUT
                                                           : write_input(&ch->out, f, streams, &w);
    if (out && ch && ch->out.pos != start) { /* left half written: the input can go no further */
        atomic_store(&ch->broken, true);
        s->input_done = true;
    }
    s->input_done |= out == 0 && f->type == BAY_F_END;
    bay_error e = {.code = 0}, why = {.code = 0};
    int rc = 0;
    if (out == BAY_ETIMEDOUT && (until < s->deadline_ns || (streams && wait_ms == 0))) {
        rc = bay_error_set(&e, BAY_EPENDING, NULL, "call \"%s\" took no more input within %d ms (it has not taken "
                           "the chunks before); try again", s->name, wait_ms);
    } else if (out == BAY_EINVAL) {
        rc = bay_error_set(&e, BAY_EINVAL, NULL, "%s of call \"%s\" is over plugbay's frame limit of %u bytes",
                           f->type == BAY_F_END ? "the end of input" : "a chunk of input", s->name, BAY_FRAME_MAX);
    } else if (out == GONE_CLOSING) {
        gone(s, ch, out, &e);
        rc = e.code;
    } else if (out == GONE_OVER && f->type == BAY_F_END) { /* nothing waits for input any more: nothing to do */
        out = 0;
        s->input_done = true;
    } else if (out == GONE_OVER) { /* the call ended first; once the stream did, its code and err were set before */
        why = atomic_load(&s->over) && s->code ? s->err : why;
    } else if (out) {
        gone(s, ch, out, &why);
    }
    if (out && rc == 0)
        rc = bay_error_set(&e, BAY_ESTATE, why.code ? why.plugin : NULL, "call \"%s\" ended before its input "
                           "did%s%s", s->name, why.code ? ": " : "", why.code ? why.message : "");
    pthread_mutex_unlock(&s->send_mu);
    if (rc && err)
        *err = e;
    return rc;
}

void bay__fast_stream_cancel(bay__fast_stream *s)
{
    atomic_store(&s->cancelled, true);
}

void bay__fast_stream_free(bay__fast_stream *s)
{
    bay_conn *c = s->conn;
    pthread_mutex_lock(&s->mu);
    if (s->ch) {
        /* Abandoned: the worker is told to stop, and the next call on the channel skips what is left of this one. */
        stream_cancel(s, s->ch, BAY_ECANCELED);
        stream_end(s, BAY_ECANCELED, &(bay_error){.code = BAY_ECANCELED});
    }
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->send_mu);
    free(s);
    bay__conn_unhold(c);
}
