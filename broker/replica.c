/* broker/replica.c — a plugin's replicas: the workers past its first that its manifest's "replicas" asks for,
 * started once the plugin loaded, each in a sandbox and with limits of its own, unloaded when it unloads, started
 * anew beside each new serving worker (a reload, an update), after a settings change and after a crash.
 *
 * The plugin's own worker (p->worker) is the first; lifecycle.c alone moves the plugin through its states, and
 * this file follows them (a notice listener) without changing them: a replica that fails never fails its plugin. */
#include "replica.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "lifecycle.h"
#include "route.h"
#include "supervise.h"

/* A replica that ended unasked starts again after this, unless it ended this many times within the plugin's
 * --restart-window-ms: then it stays down until the plugin loads again. */
#define RESTART_MS 1000
#define CRASHES_MAX 4

/* wanted returns how many replicas p should run now: its manifest's "replicas" (at most --replicas-max) less
 * its own worker, while it is loaded; none otherwise. */
static size_t wanted(const broker *b, const plugin *p)
{
    int n = p->m && p->m->replicas < b->opt.replicas_max ? p->m->replicas : b->opt.replicas_max;
    return p->life.state == PS_LOADED && n > 1 ? (size_t)n - 1 : 0;
}

/* grow makes p's slots at least n; false when out of memory. */
static bool grow(plugin *p, size_t n)
{
    if (n <= p->nreplicas)
        return true;
    replica **v = realloc(p->replicas, n * sizeof *v);
    if (v == NULL)
        return false;
    p->replicas = v;
    for (; p->nreplicas < n; p->nreplicas++) {
        replica *r = calloc(1, sizeof *r);
        if (r == NULL)
            return false;
        r->proc.out_fd = -1;
        r->index = (int)p->nreplicas + 2;
        v[p->nreplicas] = r;
    }
    return true;
}

/* retire stops replica r: one that serves is sent COMMAND unload (it answers the calls it has first: they came
 * before), one still starting is ended. */
static void retire(broker *b, plugin *p, replica *r)
{
    r->restart_at_ms = 0;
    if (r->proc.pid == 0 || r->unload_id || r->proc.kill_sent)
        return;
    if (!r->serving || r->worker == NULL || !r->worker->hello_done) {
        supervise_end_replica(b, p, r, NULL);
        return;
    }
    r->serving = false;
    bay__frame f = {.type = BAY_F_COMMAND, .id = r->unload_id = ++b->next_call, .name = "unload"};
    conn_send(b, r->worker, &f);
}

/* start starts replica r's worker beside p's serving one; a failure is logged and tried again later. */
static void start(broker *b, plugin *p, replica *r)
{
    bay_error err;
    r->restart_at_ms = 0;
    r->serving = false;
    r->load_id = r->unload_id = 0;
    r->beside = p->proc.pid;
    if (supervise_spawn_replica(b, p, r, &err) != 0) {
        bay__log(BAY_LOG_WARN, p->id, "cannot start replica %d: %s; trying again in %d ms", r->index,
                 err.message, RESTART_MS);
        r->restart_at_ms = bay__now_ms() + RESTART_MS;
    }
}

/* settle makes p's replicas what it wants now: the missing ones started, those beside an earlier serving worker,
 * with settings older than the plugin's or past the number wanted retired (each starts again once it is gone). */
static void settle(broker *b, plugin *p)
{
    size_t n = wanted(b, p);
    if (!grow(p, n)) {
        bay__log(BAY_LOG_ERROR, p->id, "out of memory: it runs with fewer replicas than its manifest asks for");
        n = p->nreplicas;
    }
    for (size_t i = 0; i < p->nreplicas; i++) {
        replica *r = p->replicas[i];
        bool stale = r->beside != p->proc.pid || (r->serving && r->settings_sent != p->settings_changes);
        if (r->proc.pid && (i >= n || stale))
            retire(b, p, r);
        else if (r->proc.pid == 0 && i < n && r->restart_at_ms == 0 && !r->down)
            start(b, p, r);
    }
}

/* on_notice follows the states of plugins (a notice_fn). */
static void on_notice(broker *b, const char *what, const char *name, const char *who, const char *state,
                      const char *reason)
{
    (void)name, (void)state, (void)reason;
    plugin *p = strcmp(what, "plugin-state") == 0 ? broker_plugin(b, who) : NULL;
    if (p == NULL || (p->nreplicas == 0 && wanted(b, p) == 0))
        return;
    if (p->life.state == PS_LOADED && p->life.reload == RELOAD_NONE)
        for (size_t i = 0; i < p->nreplicas; i++)
            p->replicas[i]->down = false; /* a load of its own: replicas that stayed down try again */
    settle(b, p);
}

void replica_init(broker *b)
{
    lifecycle_on_notice(b, on_notice);
    b->replica_gone = replica_ended;
}

bool replica_ready(broker *b, plugin *p, conn *c)
{
    replica *r = plugin_replica(p, c);
    if (r == NULL)
        return false;
    if (wanted(b, p) == 0 || r->beside != p->proc.pid) { /* the plugin moved on while it started */
        supervise_end_replica(b, p, r, NULL);
        return true;
    }
    r->load_id = lifecycle_send_load(b, p, p->m, c);
    r->settings_sent = p->settings_changes;
    return true;
}

bool replica_answer(broker *b, plugin *p, conn *c, const bay__frame *f)
{
    replica *r = plugin_replica(p, c);
    if (r == NULL || (f->id != r->load_id && f->id != r->unload_id) || f->id == 0)
        return false;
    if (f->id == r->unload_id) {
        supervise_end_replica(b, p, r, NULL);
        return true;
    }
    r->load_id = 0;
    if (f->type == BAY_F_ERROR) {
        char why[600];
        snprintf(why, sizeof why, "replica %d did not load: %s", r->index, f->message);
        r->down = true; /* what failed once fails again: it stays down until the plugin loads again */
        supervise_end_replica(b, p, r, why);
        return true;
    }
    r->serving = true;
    r->proc.last_beat_ms = bay__now_ms();
    bay__log(BAY_LOG_INFO, p->id, "replica %d serves (worker %d)", r->index, r->proc.pid);
    settle(b, p); /* the plugin may have moved on while it loaded */
    return true;
}

void replica_ended(broker *b, plugin *p, replica *r, const char *why)
{
    bool asked = r->unload_id != 0 || strcmp(why, "unloaded") == 0;
    conn *c = r->worker;
    r->serving = false;
    r->load_id = r->unload_id = 0;
    if (c) {
        char text[700];
        snprintf(text, sizeof text, "replica %d: %s", r->index, why);
        route_fail_provider(b, c->session, NULL, BAY_ECRASHED, text);
        conn_close(b, c);
    }
    r->worker = NULL;
    if (!asked && !r->down && wanted(b, p) > (size_t)(r->index - 2)) {
        int64_t now = bay__now_ms();
        r->crashes[r->ncrashes++ % CRASHES_MAX] = now;
        unsigned recent = 0;
        for (unsigned i = 0; i < CRASHES_MAX && i < r->ncrashes; i++)
            recent += now - r->crashes[i] <= b->opt.restart_window_ms;
        if (recent >= CRASHES_MAX) {
            r->down = true;
            bay__log(BAY_LOG_WARN, p->id, "replica %d ended: %s; it ended %u times within %d s, so it stays down "
                     "until the plugin loads again (the others serve on)", r->index, why, recent,
                     b->opt.restart_window_ms / 1000);
            return;
        }
        r->restart_at_ms = now + RESTART_MS;
        bay__log(BAY_LOG_WARN, p->id, "replica %d ended: %s; restarting it in %d ms", r->index, why,
                 RESTART_MS);
        return;
    }
    settle(b, p); /* retired beside an earlier worker, or for new settings: its successor starts now */
}

int64_t replica_tick(broker *b, int64_t now)
{
    int64_t next = 0;
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *p = b->plugins[i];
        bool due = false;
        for (size_t k = 0; k < p->nreplicas; k++) {
            replica *r = p->replicas[k];
            if (r->restart_at_ms && r->restart_at_ms <= now) {
                r->restart_at_ms = 0;
                due = true;
            } else if (r->restart_at_ms && (next == 0 || r->restart_at_ms < next)) {
                next = r->restart_at_ms;
            }
            due |= r->serving && r->settings_sent != p->settings_changes;
        }
        if (due)
            settle(b, p);
    }
    return next;
}

/* add_known adds v to *sum when v is known (not negative); -1 in *sum counts as nothing yet. */
static void add_known(int64_t *sum, int64_t v)
{
    if (v >= 0)
        *sum = *sum < 0 ? v : *sum + v;
}

bay_value *replica_info(const plugin *p, int64_t *cpu_ms, int64_t *pss_kb)
{
    bay_value *list = bay_array();
    for (size_t i = 0; list && i < p->nreplicas; i++) {
        const replica *r = p->replicas[i];
        if (r->proc.pid == 0 && r->restart_at_ms == 0)
            continue;
        bay_value *one = bay_map();
        bay_map_set(one, "replica", bay_int(r->index));
        bay_map_set(one, "pid", bay_int(r->proc.pid));
        bay_map_set(one, "state", bay_str(r->serving ? "serving" : r->unload_id ? "unloading"
                                          : r->proc.pid ? "starting" : "restarting"));
        bay_map_set(one, "calls", bay_int(r->worker ? r->worker->calls_serving : 0));
        int64_t cpu, pss;
        supervise_usage(r->proc.pid, &cpu, &pss);
        bay_map_set(one, "cpu_ms", cpu >= 0 ? bay_int(cpu) : bay_nil());
        bay_map_set(one, "pss_kb", pss >= 0 ? bay_int(pss) : bay_nil());
        add_known(cpu_ms, cpu);
        add_known(pss_kb, pss);
        bay_array_push(list, one);
    }
    return list;
}
