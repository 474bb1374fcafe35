/* broker/loop.c — plugbayd's event loop: one thread owns all state; NNG's threads only queue (conn.c). */
#include "broker.h"
#include "command.h"
#include "conn.h"
#include "fastpath.h"
#include "follow.h"
#include "incoming.h"
#include "lifecycle.h"
#include "loop.h"
#include "manage.h"
#include "console.h"
#include "metrics.h"
#include "offer.h"
#include "precompile.h"
#include "provide.h"
#include "replica.h"
#include "route.h"
#include "supervise.h"
#include "update.h"
#include "watch.h"
#include "zygote.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* ---- what each frame does, by the role of the peer that sent it ---------- */

static void worker_hello(broker *b, conn *c, const bay__frame *f)
{
    (void)f;
    if (!replica_ready(b, c->plugin, c))
        lifecycle_worker_ready(b, c->plugin, c);
}

static void heartbeat(broker *b, conn *c, const bay__frame *f)
{
    (void)b;
    if (c->plugin)
        supervise_beat(c->plugin, c, f->id);
}

static void worker_log(broker *b, conn *c, const bay__frame *f)
{
    if (c->plugin)
        supervise_log(b, c->plugin, c, (int)f->level, f->message);
}

static void worker_command(broker *b, conn *c, const bay__frame *f)
{
    if (c->plugin && strcmp(f->name, "refused") == 0)
        supervise_refused(b, c->plugin, f);
    else if (c->plugin && strcmp(f->name, "fastcalls") == 0)
        route_fast_calls(b, c->plugin, f);
    else if (!manage_command(b, c, f))
        fastpath_worker_command(b, c, f);
}

static void cancel(broker *b, conn *c, const bay__frame *f)
{
    route_cancel(b, c, f->id);
}

/* answer takes a RESULT or ERROR: the answer to one of plugbayd's commands
 * to a worker, to a fast-channel request, or to a call it routed. */
static void answer(broker *b, conn *c, const bay__frame *f)
{
    plugin *p = c->role == ROLE_WORKER ? c->plugin : NULL;
    if (p && c == p->worker && f->id == p->life.load_id)
        lifecycle_load_answer(b, p, f);
    else if (p && c == p->worker && f->id == p->life.unload_id)
        lifecycle_unload_answer(b, p);
    else if (p && c == p->other_worker && lifecycle_other_answer(b, p, f))
        ;
    else if (p && replica_answer(b, p, c, f))
        ;
    else if (!fastpath_answer(b, c, f))
        route_answer(b, c, f);
}

/* refused answers f, which names an extension point host c's grants do not
 * cover for what ("call", "provide"), with BAY_EPERM; true when it did. */
static bool refused(broker *b, conn *c, const bay__frame *f, const char *what)
{
    if (conn_may(c, what, f->name))
        return false;
    conn_send_error(b, c, f->id, BAY_EPERM, NULL, "%s may not %s \"%s\": it was not granted %s:%s", conn_who(c), what,
                    f->name, what, f->name);
    return true;
}

static void host_call(broker *b, conn *c, const bay__frame *f)
{
    if (!refused(b, c, f, "call"))
        route_call(b, c, f);
}

static void host_event(broker *b, conn *c, const bay__frame *f)
{
    if (!refused(b, c, f, "call"))
        route_event(b, c, f);
}

static void host_provide(broker *b, conn *c, const bay__frame *f)
{
    if (!refused(b, c, f, "provide"))
        provide_frame(b, c, f);
}

/* What a peer may send once it said HELLO, and a host's role for it: the only table of frames. */
static const struct conn_dispatch frames = {
    .host = {[BAY_F_CALL] = {host_call, BAY_ROLE_HOST}, [BAY_F_EVENT] = {host_event, BAY_ROLE_HOST},
             [BAY_F_CANCEL] = {cancel, BAY_ROLE_HOST}, [BAY_F_RESULT] = {answer, BAY_ROLE_HOST},
             [BAY_F_ERROR] = {answer, BAY_ROLE_HOST}, [BAY_F_DECLARE] = {host_provide, BAY_ROLE_HOST},
             [BAY_F_PROVIDE] = {host_provide, BAY_ROLE_HOST}, [BAY_F_WITHDRAW] = {provide_withdraw, BAY_ROLE_HOST},
             [BAY_F_SUBSCRIBE] = {provide_subscribe, BAY_ROLE_OBSERVER},
             [BAY_F_COMMAND] = {command_handle, BAY_ROLE_OBSERVER}, /* each command says its own */
             [BAY_F_CHUNK] = {route_chunk, BAY_ROLE_HOST}, [BAY_F_CREDIT] = {route_credit, BAY_ROLE_HOST},
             [BAY_F_END] = {route_end, BAY_ROLE_HOST}},
    .worker = {[BAY_F_HELLO] = {worker_hello}, [BAY_F_CALL] = {route_call}, [BAY_F_EVENT] = {route_event},
               [BAY_F_CANCEL] = {cancel}, [BAY_F_RESULT] = {answer}, [BAY_F_ERROR] = {answer},
               [BAY_F_HEARTBEAT] = {heartbeat}, [BAY_F_LOG] = {worker_log}, [BAY_F_COMMAND] = {worker_command},
               [BAY_F_CHUNK] = {route_chunk}, [BAY_F_CREDIT] = {route_credit}},
};

/* rescan looks at the plugins folder again (lifecycle_rescan), saying in the log why it could not. */
static void rescan(broker *b)
{
    bay_error err;
    if (lifecycle_rescan(b, NULL, &err) != 0)
        bay__log(BAY_LOG_ERROR, NULL, "%s", err.message);
}

/* hangup reopens the log file (logrotate moved it) and rescans, as SIGHUP asks. */
static void hangup(broker *b)
{
    if (bay__log_reopen() != 0)
        bay__log(BAY_LOG_ERROR, NULL, "received SIGHUP; cannot open the log file %s again (%s): still writing the "
                 "old one", b->opt.log_path, strerror(errno));
    else
        bay__log(BAY_LOG_INFO, NULL, "received SIGHUP; log file opened again, rescanning the plugins folder");
    rescan(b);
}

static void handle_signals(broker *b)
{
    struct signalfd_siginfo si;
    while (read(b->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            supervise_reap(b);
        } else if (si.ssi_signo == SIGHUP) {
            if (!b->stopping)
                hangup(b);
        } else if (!b->stopping) {
            bay__log(BAY_LOG_INFO, NULL, "received %s; stopping plugins and exiting", strsignal((int)si.ssi_signo));
            b->stopping = true;
        }
    }
}

#define FIXED_FDS 5 /* the queue's eventfd, the signalfd, the plugins folder's inotify, the indexes' eventfd, the
                        downloads' eventfd (offer.c); then workers' output */

static int64_t min_deadline(int64_t a, int64_t b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* tick runs everything that is due and returns the next time something is (0 = nothing). */
static int64_t tick(broker *b)
{
    int64_t now = bay__now_ms();
    conn_expire_handshakes(b, now);
    int64_t next = route_expire(b, now);
    next = min_deadline(next, lifecycle_tick(b, now));
    next = min_deadline(next, supervise_tick(b, now));
    next = min_deadline(next, replica_tick(b, now));
    next = min_deadline(next, metrics_tick(b, now));
    next = min_deadline(next, console_tick(b, now));
    next = min_deadline(next, precompile_tick(b, now));
    incoming_tick(b);
    if (!b->stopping && watch_due(b->watch, now, &next)) /* the plugins folder changed, then was quiet */
        rescan(b);
    return next;
}

static int setup_fds(broker *b)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* Blocked before NNG starts its threads, so they inherit the mask and only signalfd sees these. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return b->signal_fd < 0 || conn_queue_init(b) != 0 ? BAY_EIO : 0;
}

int loop_run(broker *b)
{
    bay_error err = {0};
    if (setup_fds(b)) {
        bay__log(BAY_LOG_ERROR, NULL, "cannot create signalfd/eventfd: %s", strerror(errno));
        return 1;
    }
    if (route_init(b) != 0) {
        bay__log(BAY_LOG_ERROR, NULL, "out of memory");
        return 1;
    }
    if (metrics_init(b, &err) != 0) {
        bay__log(BAY_LOG_ERROR, NULL, "%s", err.message);
        return 1;
    }
    if (command_init(b, &err) != 0 || console_start(b, &err) != 0) {
        bay__log(BAY_LOG_ERROR, NULL, "%s", err.message);
        return 1;
    }
    /* Who hears of a host going away, in this order: its providers go first,
     * so no new call is routed to it, then its fast channels, then its calls. */
    b->dispatch = &frames;
    b->worker_gone = lifecycle_worker_gone;
    b->drained = lifecycle_drained;
    b->compiled = lifecycle_compiled;
    b->reloaded = update_reloaded;
    b->settled = incoming_settled;
    conn_on_host_gone(b, provide_host_gone);
    conn_on_host_gone(b, fastpath_host_gone);
    conn_on_host_gone(b, route_host_gone);
    lifecycle_on_notice(b, fastpath_notice);
    replica_init(b);
    if (watch_open(&b->watch, &err) != 0)
        bay__log(BAY_LOG_WARN, NULL, "%s", err.message);
    if (supervise_init(b, &err) || lifecycle_discover(b, &err) || conn_listen_public(b)) {
        if (err.message[0])
            bay__log(BAY_LOG_ERROR, NULL, "%s", err.message);
        return 1;
    }
    bay__log(BAY_LOG_INFO, NULL, "plugbayd %s listening on %s (plugins %s, state %s)", b->version, b->url,
            b->opt.plugins_dir, b->opt.state_dir);
    lifecycle_start_enabled(b);
    if (follow_start(b, &err) != 0)
        bay__log(BAY_LOG_ERROR, NULL, "%s", err.message);

    struct pollfd *fds = NULL;
    plugin **owners = NULL;
    worker_proc **procs = NULL;
    int64_t stop_deadline = 0;
    for (;;) {
        int64_t next = tick(b);
        if (b->stopping) {
            if (stop_deadline == 0) {
                stop_deadline = bay__now_ms() + b->opt.drain_timeout_ms + 1000;
                lifecycle_shutdown(b);
            }
            bool alive = false;
            for (size_t i = 0; i < b->nplugins; i++) {
                alive |= b->plugins[i]->proc.pid != 0 || b->plugins[i]->other.pid != 0;
                for (size_t k = 0; k < b->plugins[i]->nreplicas; k++)
                    alive |= b->plugins[i]->replicas[k]->proc.pid != 0;
            }
            if (!alive || bay__now_ms() > stop_deadline)
                break;
            next = min_deadline(next, bay__now_ms() + 50);
        }
        size_t nfds = FIXED_FDS, nprocs = 0;
        for (size_t i = 0; i < b->nplugins; i++)
            nprocs += 2 + b->plugins[i]->nreplicas;
        fds = realloc(fds, (FIXED_FDS + nprocs) * sizeof *fds);
        owners = realloc(owners, (FIXED_FDS + nprocs) * sizeof *owners);
        procs = realloc(procs, (FIXED_FDS + nprocs) * sizeof *procs);
        fds[0] = (struct pollfd){.fd = b->queue.wake_fd, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = b->signal_fd, .events = POLLIN};
        fds[2] = (struct pollfd){.fd = watch_fd(b->watch), .events = POLLIN}; /* -1 (none): poll skips it */
        fds[3] = (struct pollfd){.fd = follow_fd(b), .events = POLLIN};
        fds[4] = (struct pollfd){.fd = offer_fd(b), .events = POLLIN}; /* -1 until the first install.index */
        int64_t now = bay__now_ms();
        for (size_t i = 0; i < b->nplugins; i++) { /* each plugin's worker, its other one, its replicas */
            plugin *p = b->plugins[i];
            for (size_t k = 0; k < 2 + p->nreplicas; k++) {
                worker_proc *w = k == 0 ? &p->proc : k == 1 ? &p->other : &p->replicas[k - 2]->proc;
                if (w->out_fd >= 0 && w->out_resume_ms > now) { /* output over its limit: read again later */
                    next = min_deadline(next, w->out_resume_ms);
                } else if (w->out_fd >= 0) {
                    owners[nfds] = p;
                    procs[nfds] = w;
                    fds[nfds++] = (struct pollfd){.fd = w->out_fd, .events = POLLIN};
                }
            }
        }
        int64_t wait = next ? next - bay__now_ms() : 1000;
        if (wait < 0)
            wait = 0;
        if (poll(fds, nfds, (int)(wait > 1000 ? 1000 : wait)) < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            conn_drain(b);
        if (fds[1].revents)
            handle_signals(b);
        if (fds[2].revents)
            watch_read(b->watch, bay__now_ms());
        if (fds[3].revents)
            follow_apply(b);
        if (fds[4].revents)
            offer_apply(b);
        for (size_t i = FIXED_FDS; i < nfds; i++)
            if (fds[i].revents && procs[i]->out_fd == fds[i].fd) /* not a worker a reload's switch or an end moved */
                supervise_read_output(b, owners[i], procs[i]);
    }
    free(fds);
    free(owners);
    free(procs);
    offer_stop(b);
    follow_stop(b);
    precompile_stop(b);
    zygote_stop(b);
    supervise_kill_all(b);
    route_free(b);
    console_stop(b);
    command_free(b);
    metrics_free(b);
    update_free(b);
    incoming_free(b);
    fastpath_free(b);
    conn_close_all(b);
    lifecycle_free(b);
    conn_queue_free(b);
    close(b->signal_fd);
    watch_close(b->watch);
    bay__log(BAY_LOG_INFO, NULL, "plugbayd stopped");
    return 0;
}
