/* broker/peer.c — who may connect to plugbayd: refuses plugin workers and their descendants (see peer.h). */
#include "peer.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plugbay/error.h>

#include "broker.h"

/* Workers whose end is remembered, to name the plugin of an orphan that knocks. */
#define ENDED_MAX 64
/* Parent links followed at most (a chain cannot loop; this only bounds a misread). */
#define DEPTH_MAX 4096
/* Walks started again when an ancestor exits during one. */
#define WALK_TRIES 8
/* Log lines NNG's threads leave for the broker's thread to write (the log is its alone). */
#define PENDING_MAX 32

typedef struct worker_pid {
    pid_t pid;
    uint64_t session;    /* the connection it dials */
    char plugin[128];
    bay__log_limit limit; /* the lines about what its plugin tried */
} worker_pid;

struct peer_guard {
    pthread_mutex_t mtx;
    worker_pid *live;
    size_t nlive, cap;
    worker_pid ended[ENDED_MAX]; /* a ring: pid 0 where empty */
    size_t next_ended;
    bay__log_limit orphans; /* lines about descendants whose plugin is not known */
    bay__log_limit strays;  /* lines about dials of connections made for another process */
    struct pending {
        char plugin[128];  /* "" when not known; "-" for a stray */
        char line[512];
    } pending[PENDING_MAX];
    size_t npending;
    unsigned lost;         /* lines that found the pending ones full */
};

peer_guard *peer_guard_new(void)
{
    peer_guard *g = calloc(1, sizeof *g);
    if (g)
        pthread_mutex_init(&g->mtx, NULL);
    return g;
}

void peer_guard_hold(peer_guard *g)
{
    pthread_mutex_lock(&g->mtx);
}

void peer_guard_release(peer_guard *g)
{
    pthread_mutex_unlock(&g->mtx);
}

int peer_worker_started(peer_guard *g, pid_t pid, uint64_t session, const char *plugin)
{
    if (g->nlive == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        worker_pid *grown = realloc(g->live, cap * sizeof *grown);
        if (grown == NULL)
            return BAY_ENOMEM;
        g->live = grown;
        g->cap = cap;
    }
    worker_pid *w = &g->live[g->nlive++];
    *w = (worker_pid){.pid = pid, .session = session};
    snprintf(w->plugin, sizeof w->plugin, "%s", plugin);
    return 0;
}

void peer_worker_ended(peer_guard *g, pid_t pid)
{
    pthread_mutex_lock(&g->mtx);
    for (size_t i = 0; i < g->nlive; i++)
        if (g->live[i].pid == pid) {
            g->ended[g->next_ended] = g->live[i];
            g->next_ended = (g->next_ended + 1) % ENDED_MAX;
            g->live[i] = g->live[--g->nlive];
            break;
        }
    pthread_mutex_unlock(&g->mtx);
}

/* live_worker returns the live worker pid, or NULL (the guard held). */
static worker_pid *live_worker(peer_guard *g, pid_t pid)
{
    for (size_t i = 0; i < g->nlive; i++)
        if (g->live[i].pid == pid)
            return &g->live[i];
    return NULL;
}

bool peer_is_worker_of(peer_guard *g, pid_t pid, uint64_t session)
{
    pthread_mutex_lock(&g->mtx);
    worker_pid *w = live_worker(g, pid);
    bool yes = w && w->session == session;
    pthread_mutex_unlock(&g->mtx);
    return yes;
}

/* The result of a walk up pid's parents. */
typedef struct lineage {
    enum { L_OUTSIDE, L_WORKER, L_ADOPTED, L_UNKNOWN } kind;
    pid_t worker; /* L_WORKER: the worker it is or descends from */
    pid_t sid;    /* its session (a worker leads its own, and its children inherit it) */
    int err;      /* L_UNKNOWN: why */
} lineage;

/* walk follows pid's parents up to a live worker, plugbayd, or pid 1 (the guard held). */
static lineage walk(peer_guard *g, pid_t pid)
{
    pid_t self = getpid();
    lineage l = {.kind = L_UNKNOWN, .err = EAGAIN};
    for (int tries = 0; tries < WALK_TRIES && l.kind == L_UNKNOWN && l.err == EAGAIN; tries++) {
        pid_t cur = pid;
        for (int depth = 0; depth < DEPTH_MAX; depth++) {
            if (live_worker(g, cur))
                return (lineage){.kind = L_WORKER, .worker = cur, .sid = l.sid};
            if (cur == self)
                return (lineage){.kind = L_ADOPTED, .sid = l.sid};
            if (cur <= 1)
                return (lineage){.kind = L_OUTSIDE};
            pid_t parent = 0, sid = 0;
            int e = bay__proc_parent(cur, &parent, &sid);
            /* A process plugbayd may not read runs as another user: workers run as
             * plugbayd's, and no_new_privs keeps their descendants there. */
            if (e == EACCES || e == EPERM)
                return (lineage){.kind = L_OUTSIDE};
            if (e != 0) {
                /* The peer gone is refused (it cannot use an answer); an ancestor
                 * gone reparented the chain, which is walked again. */
                l.err = cur == pid && e == ENOENT ? ESRCH : e == ENOENT ? EAGAIN : e;
                break;
            }
            if (cur == pid)
                l.sid = sid;
            cur = parent;
        }
    }
    return l;
}

/* plugin_of names the plugin of a worker or of session leader sid, live or ended; NULL when unknown (the guard held). */
static worker_pid *plugin_of(peer_guard *g, pid_t worker, pid_t sid)
{
    worker_pid *w = worker ? live_worker(g, worker) : NULL;
    if (w == NULL && sid > 1)
        w = live_worker(g, sid);
    for (size_t i = 0; w == NULL && sid > 1 && i < ENDED_MAX; i++)
        if (g->ended[i].pid == sid)
            w = &g->ended[i];
    return w;
}

/* log_line writes line about plugin ("" unknown, "-" a stray) within its rate
 * limit, or, when defer (an NNG thread), leaves it for peer_guard_flush (the guard held). */
static void log_line(peer_guard *g, const char *plugin, const char *line, bool defer)
{
    if (defer) {
        if (g->npending == PENDING_MAX) {
            g->lost++;
            return;
        }
        struct pending *p = &g->pending[g->npending++];
        snprintf(p->plugin, sizeof p->plugin, "%s", plugin);
        snprintf(p->line, sizeof p->line, "%s", line);
        return;
    }
    worker_pid *w = NULL;
    for (size_t i = 0; w == NULL && plugin[0] && i < g->nlive; i++)
        if (strcmp(g->live[i].plugin, plugin) == 0)
            w = &g->live[i];
    bay__log_limit *limit = w ? &w->limit : strcmp(plugin, "-") == 0 ? &g->strays : &g->orphans;
    bay__log_limited(limit, bay__now_ms(), BAY_LOG_WARN, plugin[0] && plugin[0] != '-' ? plugin : NULL, "%s", line);
}

int peer_admit(peer_guard *g, pid_t pid, const char *where, bool defer, bay_error *err)
{
    if (pid <= 0)
        return 0;
    pthread_mutex_lock(&g->mtx);
    lineage l = walk(g, pid);
    if (l.kind == L_OUTSIDE) {
        pthread_mutex_unlock(&g->mtx);
        return 0;
    }
    worker_pid *w = plugin_of(g, l.worker, l.sid);
    bool ended = w && !live_worker(g, w->pid);
    char whose[300];
    if (l.kind == L_UNKNOWN)
        snprintf(whose, sizeof whose, "plugbayd cannot tell where pid %d comes from: %s", (int)pid,
                 l.err == ESRCH ? "it has exited" : strerror(l.err));
    else if (w && l.kind == L_WORKER && l.worker == pid)
        snprintf(whose, sizeof whose, "pid %d is %s's worker", (int)pid, w->plugin);
    else if (w)
        snprintf(whose, sizeof whose, "pid %d belongs to %s's worker (it descends from worker pid %d%s)", (int)pid,
                 w->plugin, (int)w->pid, ended ? ", which has ended" : "");
    else
        snprintf(whose, sizeof whose, "pid %d descends from a plugin worker that has ended", (int)pid);
    bay_error_set(err, BAY_EPERM, w ? w->plugin : NULL,
                  "plugbayd refuses connections from plugin workers and their children: %s", whose);
    char line[512];
    snprintf(line, sizeof line, "refused a connection to %s: %s", where, whose);
    log_line(g, w && !ended ? w->plugin : "", line, defer);
    pthread_mutex_unlock(&g->mtx);
    return BAY_EPERM;
}

void peer_log_stray(peer_guard *g, pid_t pid, uint64_t session, pid_t expected)
{
    char line[512];
    snprintf(line, sizeof line, "refused pid %d's dial of connection %llu, which was made for pid %d", (int)pid,
             (unsigned long long)session, (int)expected);
    pthread_mutex_lock(&g->mtx);
    log_line(g, "-", line, true);
    pthread_mutex_unlock(&g->mtx);
}

void peer_guard_flush(peer_guard *g)
{
    pthread_mutex_lock(&g->mtx);
    for (size_t i = 0; i < g->npending; i++)
        log_line(g, g->pending[i].plugin, g->pending[i].line, false);
    g->npending = 0;
    if (g->lost)
        bay__log(BAY_LOG_WARN, NULL, "%u lines about refused connections were lost: too many came at once", g->lost);
    g->lost = 0;
    pthread_mutex_unlock(&g->mtx);
}
