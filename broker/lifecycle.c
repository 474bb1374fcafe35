/* broker/lifecycle.c — each plugin's life: discover, load, unload after draining, crash and restart. */
#include "broker.h"
#include "config.h"
#include "conn.h"
#include "depends.h"
#include "fastpath.h"
#include "lifecycle.h"
#include "metrics.h"
#include "order.h"
#include "precompile.h"
#include "route.h"
#include "setting.h"
#include "supervise.h"
#include "timer.h"
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "value_convert.h"

#define UNLOAD_EXIT_MS 2000 /* time a worker gets to exit after COMMAND unload */
#define REFUSED_LOGGED 10   /* entries of the plugins folder refused in one pass that are logged one by one */
#define REFUSED_ANSWERED 100 /* and that `plugbay rescan` lists (it counts them all) */

void lifecycle_notice(broker *b, const char *what, const char *name, const char *who, const char *state,
                      const char *reason)
{
    size_t n;
    conn **all = conn_snapshot(b, &n);
    bay__frame f = {.type = BAY_F_NOTICE, .what = what, .name = name, .plugin = who, .state = state, .message = reason};
    for (size_t i = 0; i < n; i++) {
        conn *c = all[i];
        if (c->subscribed)
            conn_send(b, c, &f);
    }
    free(all);
    for (size_t i = 0; i < b->nnotice; i++)
        b->notice[i](b, what, name, who, state, reason);
}

/* give_up_reload ends the new worker of p's reload, still starting (why). */
static void give_up_reload(broker *b, plugin *p, const char *why)
{
    if (p->life.reload == RELOAD_STARTING)
        supervise_kill_other(b, p, why);
}

void lifecycle_shutdown(broker *b)
{
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *p = b->plugins[i];
        p->life.restart_at_ms = 0;
        give_up_reload(b, p, "plugbayd is stopping");
        if (p->proc.pid)
            lifecycle_unload(b, p, false, PS_STOPPED, NULL);
    }
}

void lifecycle_on_notice(broker *b, notice_fn fn)
{
    if (b->nnotice < LISTENERS_MAX)
        b->notice[b->nnotice++] = fn;
}

/* load_dependency loads dep, a stopped dependency of a plugin being loaded
 * (whose own load says what came of it). */
static void load_dependency(broker *b, plugin *dep)
{
    lifecycle_load(b, dep, NULL);
}

/* wake_dependents loads the waiting plugins whose dependencies are now loaded
 * and fails those whose dependencies cannot be, once at a time: a change made
 * while waking is picked up by the same round. */
static void wake_dependents(broker *b)
{
    if (b->waking) {
        b->wake_again = true;
        return;
    }
    b->waking = true;
    bay_error e;
    do {
        b->wake_again = false;
        for (size_t i = 0; i < b->nplugins; i++) {
            plugin *p = b->plugins[i];
            if (p->life.state != PS_WAITING)
                continue;
            int rc = depends_ready(b, p, p->m, load_dependency, &e);
            if (rc == 0)
                lifecycle_load(b, p, NULL);
            else if (rc != BAY_EPENDING)
                lifecycle_fail(b, p, e.message);
        }
    } while (b->wake_again);
    b->waking = false;
}

/* set_state moves p to s, logs it and tells subscribers. Without a reason
 * of its own, a plugin whose folder is gone has that one. */
static void set_state(broker *b, plugin *p, plugin_state s, const char *reason)
{
    char gone[sizeof p->life.reason];
    if (p->life.folder_gone && (reason == NULL || reason[0] == '\0')) {
        snprintf(gone, sizeof gone, "its folder %s/%s is gone: it cannot load again until the folder is back "
                 "(a loaded plugin runs on until unloaded)", b->opt.plugins_dir, p->id);
        reason = gone;
    }
    p->life.state = s;
    if (reason != p->life.reason)
        snprintf(p->life.reason, sizeof p->life.reason, "%s", reason ? reason : "");
    if ((s == PS_FAILED || s == PS_INVALID) && p->life.reason[0]) {
        snprintf(p->life.last_failure, sizeof p->life.last_failure, "%s", p->life.reason);
        p->life.last_failure_at = bay__wall_ms();
    }
    bay__log(s == PS_FAILED || s == PS_INVALID || p->life.folder_gone ? BAY_LOG_WARN : BAY_LOG_INFO, p->id, "%s%s%s",
            plugin_state_name(s), p->life.reason[0] ? ": " : "", p->life.reason);
    lifecycle_notice(b, "plugin-state", "", p->id, plugin_state_name(s), p->life.reason);
    if (s != PS_STARTING && s != PS_UNLOADING)
        wake_dependents(b);
}

void lifecycle_add_waiter(plugin *p, uint64_t session, uint64_t id)
{
    waiter *w = malloc(sizeof *w);
    if (w) {
        *w = (waiter){session, id, p->life.waiters};
        p->life.waiters = w;
    }
}

/* answer_waiters answers every request waiting on p: with code and why, or
 * (code 0) with p's state now. */
static void answer_waiters(broker *b, plugin *p, int code, const char *why)
{
    for (waiter *w = p->life.waiters, *next; w; w = next) {
        next = w->next;
        conn *c = conn_get(b, w->session);
        if (c && code)
            conn_send_error(b, c, w->id, code, p->id, "%s", why);
        else if (c) {
            bay_value *v = bay_map();
            bay_map_set(v, "id", bay_str(p->id));
            bay_map_set(v, "state", bay_str(plugin_state_name(p->life.state)));
            conn_send_value(b, c, w->id, v);
            bay_value_free(v);
        }
        free(w);
    }
    p->life.waiters = NULL;
}

bool lifecycle_settled(const plugin *p)
{
    plugin_state s = p->life.state;
    return s != PS_STARTING && s != PS_UNLOADING && s != PS_WAITING && p->life.reload != RELOAD_STARTING &&
           !p->life.reload_queued;
}

/* settle answers every request waiting on p with its state now. */
void lifecycle_settle(broker *b, plugin *p)
{
    char why[sizeof p->life.reason + 300] = "";
    bool bad = p->life.state == PS_FAILED || p->life.state == PS_INVALID;
    if (bad)
        snprintf(why, sizeof why, "%s is %s: %s", p->id, plugin_state_name(p->life.state), p->life.reason);
    answer_waiters(b, p, bad ? BAY_EUNAVAIL : 0, why);
    if (b->settled)
        b->settled(b, p);
}

int64_t lifecycle_order(broker *b, const plugin *p, bool *by_operator)
{
    const bay__state_plugin *sp = bay__state_find(b->state, p->id);
    if (by_operator)
        *by_operator = sp && sp->ordered;
    return sp && sp->ordered ? sp->order : p->m ? p->m->order : 0;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(plugin *const *)a)->id, (*(plugin *const *)b)->id);
}

static plugin *plugin_new(broker *b, const char *id)
{
    plugin *p = calloc(1, sizeof *p);
    plugin **grown = realloc(b->plugins, (b->nplugins + 1) * sizeof *grown);
    if (p == NULL || grown == NULL || (p->id = strdup(id)) == NULL) {
        free(p);
        if (grown)
            b->plugins = grown;
        return NULL;
    }
    b->plugins = grown;
    b->plugins[b->nplugins++] = p;
    supervise_proc_init(p);
    p->life.rest = PS_STOPPED;
    return p;
}

/* discovered_invalid makes p, just discovered, invalid: what its manifest or
 * its place among the others does not allow (label says which), logged. */
static void discovered_invalid(plugin *p, const char *label, const char *why)
{
    p->life.state = PS_INVALID;
    snprintf(p->life.reason, sizeof p->life.reason, "%s", why);
    bay__log(BAY_LOG_ERROR, p->id, "%s: %s", label, why);
}

/* dependency_items returns b->plugins, in their order, as order.h's items:
 * each with its place (lifecycle_order) and its manifest's dependencies, but
 * p with m's (p NULL: none differs). The caller frees it; NULL when out of
 * memory. */
static order_item *dependency_items(broker *b, const plugin *p, const bay__manifest *m)
{
    size_t n = b->nplugins;
    order_item *items = calloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; items && i < n; i++) {
        const bay__manifest *qm = b->plugins[i] == p ? m : b->plugins[i]->m;
        items[i] = (order_item){.id = b->plugins[i]->id, .deps = qm ? qm->deps : NULL, .ndeps = qm ? qm->ndeps : 0,
                                .place = lifecycle_order(b, b->plugins[i], NULL)};
    }
    return items;
}

/* order_by_dependencies sorts b->plugins, in load order, so that each comes
 * after its dependencies (order.h); those in or behind a cycle are last, and
 * invalid when discovering (later, a manifest that would make a cycle is
 * refused before it is taken). Out of memory, the load order stays. */
static void order_by_dependencies(broker *b, bool discovering)
{
    size_t n = b->nplugins;
    order_item *items = dependency_items(b, NULL, NULL);
    plugin **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (n && items && sorted && order_plugins(items, n) == 0) {
        for (size_t i = 0; i < n; i++) {
            sorted[items[i].rank] = b->plugins[i];
            if (items[i].cyclic && discovering)
                discovered_invalid(b->plugins[i], "refused", items[i].cycle);
        }
        memcpy(b->plugins, sorted, n * sizeof *sorted);
    }
    for (size_t i = 0; i < n; i++)
        b->plugins[i]->rank = (int64_t)i;
    free(items);
    free(sorted);
}

/* Whom the notices of a registry change name (moved_one, withdraw_one). */
struct withdrawal {
    broker *b;
    const char *who;
};

static void moved_one(const char *name, void *user)
{
    struct withdrawal *w = user;
    lifecycle_notice(w->b, "provider-moved", name, w->who, "", "");
}

/* put_in_load_order sorts b->plugins by place (lifecycle_order), then id,
 * each after its dependencies (order.h), and ranks them so. Once discovered,
 * each provider moves to its plugin's new rank, telling subscribers. */
static void put_in_load_order(broker *b, bool discovering)
{
    size_t n = b->nplugins;
    if (n > 1)
        qsort(b->plugins, n, sizeof *b->plugins, by_id);
    order_by_dependencies(b, discovering);
    for (size_t i = 0; !discovering && i < n; i++) {
        struct withdrawal w = {b, b->plugins[i]->id};
        bay__registry_rerank(b->reg, b->plugins[i], b->plugins[i]->rank, moved_one, &w);
    }
}

void lifecycle_reorder(broker *b)
{
    put_in_load_order(b, false);
}

/* no_cycle refuses manifest m for p when its dependencies would close a cycle. */
static int no_cycle(broker *b, const plugin *p, const bay__manifest *m, bay_error *err)
{
    order_item *items = dependency_items(b, p, m);
    int rc = items ? order_plugins(items, b->nplugins) : BAY_ENOMEM;
    if (rc)
        bay_error_set(err, rc, NULL, "out of memory");
    for (size_t i = 0; rc == 0 && i < b->nplugins; i++)
        if (b->plugins[i] == p && items[i].cyclic)
            rc = bay_error_set(err, BAY_EMANIFEST, p->id, "%s: field \"dependencies\": %s", m->path, items[i].cycle);
    free(items);
    return rc;
}

/* consented refuses manifest m for p while it asks for permissions that p's
 * did not and that no grant covers (permission_unconsented), naming them and
 * the command that grants them. */
static int consented(broker *b, const plugin *p, const bay__manifest *m, bay_error *err)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    char **wanted = permission_unconsented(p->m, m, sp ? sp->granted : NULL);
    if (wanted == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    char list[600], grant[1024];
    permission_join(wanted, list, sizeof list);
    permission_grant_command(p->id, wanted, grant, sizeof grant);
    int rc = wanted[0] ? bay_error_set(err, BAY_EPERM, p->id, "%s now asks for %s, not granted; grant %s with `%s`",
                                       m->path, list, wanted[1] ? "them" : "it", grant)
                       : 0;
    bay__strv_free(wanted);
    return rc;
}

/* renew reads p's plugin.json again, as discovery does, and checks it: 0
 * with *out (the caller's); or the manifest's error, a dependency cycle, or
 * BAY_EPERM for permissions it waits on (consented), each in err, which
 * ends with what keeps serving meanwhile and the command to run again (again). */
static int renew(broker *b, plugin *p, const char *again, bay__manifest **out, bay_error *err)
{
    bay__manifest *m = NULL;
    bay_error e;
    int rc = bay__manifest_load(b->opt.plugins_dir, p->id, &m, &e);
    if (rc == 0 && (rc = no_cycle(b, p, m, &e)) == 0)
        rc = consented(b, p, m, &e);
    if (rc == 0) {
        *out = m;
        return 0;
    }
    bay__manifest_free(m);
    const char *when = rc == BAY_EPERM ? "once granted" : "once plugin.json is fixed";
    if (p->proc.pid)
        return bay_error_set(err, rc, p->id, "%s; version %s keeps serving; %s, run `%s` again", e.message,
                             p->m->version, when, again);
    return bay_error_set(err, rc, p->id, "%s; %s, run `%s` again", e.message, when, again);
}

/* adopt makes m p's manifest (p runs no worker, so nothing holds the old
 * one) and puts the plugins in load order again, as its place may change. */
static void adopt(broker *b, plugin *p, bay__manifest *m)
{
    bay__log(BAY_LOG_INFO, p->id, "manifest read again: version %s (was %s)", m->version, p->m->version);
    bay__manifest_free(p->m);
    p->m = m;
    timers_clear(&p->life.timers);
    put_in_load_order(b, false);
}

int lifecycle_renew(broker *b, plugin *p, bool fresh, bay_error *err)
{
    if (p->m == NULL || p->proc.pid || p->life.folder_gone || transition_load(p->life.state, fresh) != LOAD_START)
        return 0; /* nothing to read again (a folder gone: load says so) */
    bay__manifest *m;
    char again[200];
    snprintf(again, sizeof again, "plugbay %s %s", fresh ? "enable" : "load", p->id);
    int rc = renew(b, p, again, &m, err);
    if (rc == 0)
        adopt(b, p, m);
    return rc;
}

/* beside starts a worker of p, loaded and serving, for manifest m (a
 * reload's) beside the one serving; lifecycle_other_answer switches to it
 * once it loaded. Returns false, doing nothing, when m's dependencies are not
 * all loaded now (a reload then unloads and loads, waiting for them). */
static bool beside(broker *b, plugin *p, bay__manifest *m, int *rc, bay_error *err)
{
    bay_error e;
    if (depends_ready(b, p, m, load_dependency, &e) != 0)
        return false;
    *rc = lifecycle_signature(b, p->id, m->dir, err);
    if (*rc == 0)
        *rc = supervise_spawn_other(b, p, m, err);
    if (*rc) {
        bay__manifest_free(m);
        bay_error_set(err, *rc, p->id, "%s was not reloaded: %s; version %s keeps serving", p->id, err->message,
                      p->m->version);
        return true;
    }
    bay__manifest_free(p->life.next);
    p->life.next = m;
    p->life.reload = RELOAD_STARTING;
    bay__log(BAY_LOG_INFO, p->id, "reloading: worker %d starts version %s beside worker %d, which serves meanwhile",
            p->other.pid, m->version, p->proc.pid);
    return true;
}

int lifecycle_reload(broker *b, plugin *p, bay_error *err)
{
    if (p->life.reload == RELOAD_STARTING)
        return bay_error_set(err, BAY_EBUSY, p->id, "%s is reloading already: its new worker is starting; run `plugbay "
                             "reload %s` again once that reload answered", p->id, p->id);
    if (p->life.reload == RELOAD_DRAINING) { /* answered when the reload it queues settles */
        p->life.reload_queued = true;
        bay__log(BAY_LOG_INFO, p->id, "reload queued: its previous worker is still finishing its calls");
        return 0;
    }
    bay__manifest *m = NULL;
    char again[200];
    snprintf(again, sizeof again, "plugbay reload %s", p->id);
    int rc = p->m && p->life.state != PS_INVALID && !p->life.folder_gone ? renew(b, p, again, &m, err) : 0;
    if (rc)
        return rc;
    bool serving = m && p->life.state == PS_LOADED && p->worker && p->worker->hello_done;
    if (serving && (rc = precompile_ready(b, p, m, err)) != 0) { /* the version serving serves on meanwhile */
        p->life.reload_queued = rc == BAY_EPENDING;
        bay__manifest_free(m);
        return rc == BAY_EPENDING ? 0 : bay_error_set(err, rc, p->id, "%s was not reloaded: %s; version %s keeps "
                                                      "serving", p->id, err->message, p->m->version);
    }
    if (serving && beside(b, p, m, &rc, err))
        return rc;
    if (m && p->proc.pid) { /* taken once its worker is gone */
        bay__manifest_free(p->life.next);
        p->life.next = m;
    } else if (m) {
        adopt(b, p, m);
    }
    return lifecycle_unload(b, p, true, PS_STOPPED, err);
}

/* initial_state derives a discovered plugin's state from the persistent state. */
static void initial_state(broker *b, plugin *p)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    char **all = sp == NULL && b->opt.autoinstall ? permission_requested(p->m) : NULL;
    bay_error e;
    if (all && bay__state_install(b->state, p->id, (const char *const *)all, &sp, &e) == 0)
        bay__log(BAY_LOG_INFO, p->id, "installed with every permission it asks for (--autoinstall)");
    else if (all)
        bay__log(BAY_LOG_ERROR, p->id, "not installed (--autoinstall): %s", e.message);
    bay__strv_free(all);
    if (sp == NULL)
        p->life.state = PS_AVAILABLE;
    else if (!sp->enabled)
        p->life.state = PS_DISABLED;
    else if (sp->failed) {
        p->life.state = PS_FAILED;
        snprintf(p->life.reason, sizeof p->life.reason, "%s", sp->failed);
    } else
        p->life.state = PS_STOPPED;
}

/* plugin_free frees p, which no worker, waiter or connection holds. */
static void plugin_free(plugin *p)
{
    for (waiter *w = p->life.waiters, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    if (p->proc.out_fd >= 0)
        close(p->proc.out_fd);
    if (p->other.out_fd >= 0)
        close(p->other.out_fd);
    for (size_t i = 0; i < p->nreplicas; i++) {
        if (p->replicas[i]->proc.out_fd >= 0)
            close(p->replicas[i]->proc.out_fd);
        free(p->replicas[i]);
    }
    free(p->replicas);
    timers_clear(&p->life.old_timers);
    bay__manifest_free(p->m);
    bay__manifest_free(p->life.next);
    bay_value_free(p->proc.refused);
    metrics_plugin_free(p);
    timers_clear(&p->life.timers);
    free(p->id);
    free(p);
}

/* One pass over the plugins folder, and what it tells `plugbay rescan`
 * (each list NULL when nobody asked). */
typedef struct rescan {
    broker *b;
    bay_value *added, *changed, *gone, *back, *refused;
    struct fresh {
        plugin *p;
        bool added; /* new in this pass: loaded, once placed, when installed and enabled */
    } *fresh;        /* the plugins whose manifest this pass read: placed in load order and checked */
    size_t nfresh;
    bool discovering; /* the first pass, at start: no provider is registered yet */
    bool watch_said; /* a watch that failed was logged */
    size_t nrefused; /* entries refused: the first REFUSED_LOGGED are logged */
} rescan;

/* note adds id to list, one of those `plugbay rescan` answers (NULL: nobody asked). */
static void note(bay_value *list, const char *id)
{
    if (list)
        bay_array_push(list, bay_str(id));
}

/* count_fresh counts p among the plugins whose manifest this pass read; false when out of memory. */
static bool count_fresh(rescan *r, plugin *p, bool added)
{
    struct fresh *grown = realloc(r->fresh, (r->nfresh + 1) * sizeof *grown);
    if (grown == NULL)
        return false;
    r->fresh = grown;
    r->fresh[r->nfresh++] = (struct fresh){p, added};
    return true;
}

/* scan_folder watches a folder the scan reads or finds (bay__scan_hooks). */
static void scan_folder(const char *path, bool plugin, void *arg)
{
    rescan *r = arg;
    bay_error e;
    if (watch_folder(r->b->watch, path, plugin, &e) != 0 && !r->watch_said) {
        r->watch_said = true;
        bay__log(BAY_LOG_WARN, NULL, "%s", e.message);
    }
}

/* printable copies s into out (of size len) with every byte but printable
 * ASCII as '?': names in the plugins folder are anyone's choice, and reach
 * terminals and JSON. */
static const char *printable(const char *s, char *out, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[i] = '\0';
    return out;
}

/* scan_refused says which entry of the plugins folder is passed over, and why (bay__scan_hooks). */
static void scan_refused(const char *rel_raw, const char *why_raw, void *arg)
{
    rescan *r = arg;
    char rel[512], why[1024];
    printable(rel_raw, rel, sizeof rel);
    printable(why_raw, why, sizeof why);
    if (r->nrefused++ < REFUSED_LOGGED)
        bay__log(BAY_LOG_WARN, NULL, "%s/%s is refused: %s", r->b->opt.plugins_dir, rel, why);
    if (r->refused && r->nrefused <= REFUSED_ANSWERED) {
        bay_value *v = bay_map();
        bay_map_set(v, "path", bay_str(rel));
        bay_map_set(v, "reason", bay_str(why));
        bay_array_push(r->refused, v);
    }
}

/* found_new reads the manifest of p, new in this pass (an invalid one makes
 * p invalid), and derives its state; false when out of memory. */
static bool found_new(rescan *r, plugin *p)
{
    bay_error e;
    note(r->added, p->id);
    if (bay__manifest_load(r->b->opt.plugins_dir, p->id, &p->m, &e) != 0)
        discovered_invalid(p, "invalid manifest", e.message);
    else
        initial_state(r->b, p);
    return count_fresh(r, p, true);
}

/* announce tells p's state and reason as they now are (set_state). */
static void announce(broker *b, plugin *p)
{
    char reason[sizeof p->life.reason];
    snprintf(reason, sizeof reason, "%s", p->life.reason);
    set_state(b, p, p->life.state, reason);
}

/* reread reads again the plugin.json of p, found again and not running: a
 * change is logged and told (a plugin invalid before gets the state it would
 * get at start); the same manifest, or the same fault, changes nothing. */
static bool reread(rescan *r, plugin *p, bool came_back)
{
    bay__manifest *m = NULL;
    bay_error e;
    plugin_state was = p->life.state;
    int rc = bay__manifest_load(r->b->opt.plugins_dir, p->id, &m, &e);
    bool same = rc == 0 ? p->m && json_equal(p->m->doc, m->doc) && strcmp(p->m->dir, m->dir) == 0
                        : p->m == NULL && strcmp(p->life.reason, e.message) == 0;
    same &= !(came_back && was == PS_INVALID); /* why it was invalid gave way to its folder being gone: look again */
    if (same) {
        bay__manifest_free(m);
        if (came_back)
            announce(r->b, p);
        return true;
    }
    bay__manifest_free(p->m);
    p->m = m;
    bay__log(BAY_LOG_INFO, p->id, "its plugin.json changed: read again");
    note(r->changed, p->id);
    if (rc != 0) {
        set_state(r->b, p, PS_INVALID, e.message);
    } else if (was == PS_INVALID) {
        p->life.reason[0] = '\0';
        initial_state(r->b, p);
        announce(r->b, p);
    } else if (came_back) {
        announce(r->b, p);
    }
    return count_fresh(r, p, false);
}

/* refound handles p, whose folder the scan found: back if it was gone, its
 * manifest read again unless a worker runs it (reload reads that one). */
static bool refound(rescan *r, plugin *p)
{
    bool came_back = p->life.folder_gone;
    if (came_back) { /* the reason it had stays only when its failure sticks */
        bay__state_plugin *sp = bay__state_find(r->b->state, p->id);
        p->life.folder_gone = false;
        snprintf(p->life.reason, sizeof p->life.reason, "%s",
                 p->life.state == PS_FAILED && sp && sp->failed ? sp->failed : "");
        note(r->back, p->id);
        bay__log(BAY_LOG_INFO, p->id, "its folder is back in %s", r->b->opt.plugins_dir);
    }
    plugin_state s = p->life.state;
    if (p->proc.pid != 0 || p->other.pid != 0 || s == PS_LOADED || s == PS_STARTING || s == PS_UNLOADING) {
        if (came_back)
            announce(r->b, p);
        return true;
    }
    return reread(r, p, came_back);
}

/* lost handles p, whose folder the scan did not find: a plugin not installed
 * and not running is no longer listed (true: it was freed); an installed
 * one stays, with the reason that its folder is gone, told once. */
static bool lost(rescan *r, plugin *p)
{
    broker *b = r->b;
    if (bay__state_find(b->state, p->id) == NULL && p->proc.pid == 0 && p->other.pid == 0 &&
        (p->life.state == PS_AVAILABLE || p->life.state == PS_INVALID)) {
        bay__log(BAY_LOG_INFO, p->id, "its folder is gone from %s: no longer listed", b->opt.plugins_dir);
        note(r->gone, p->id);
        plugin_free(p);
        return true;
    }
    if (!p->life.folder_gone) {
        p->life.folder_gone = true;
        note(r->gone, p->id);
        set_state(b, p, p->life.state, NULL); /* its reason says so */
    }
    return false;
}

/* place puts the plugins in load order again and refuses the fresh ones
 * whose host range this plugbay does not satisfy. */
static void place(rescan *r)
{
    broker *b = r->b;
    bay_error e;
    put_in_load_order(b, r->discovering);
    for (size_t i = 0; i < r->nfresh; i++) {
        plugin *p = r->fresh[i].p;
        if (!r->discovering && p->m && p->life.state != PS_INVALID && no_cycle(b, p, p->m, &e) != 0) {
            discovered_invalid(p, "refused", e.message); /* a new folder that closes a cycle; the others run on */
            continue;
        }
        if (p->life.state != PS_INVALID && depends_host_check(b, p, &e) != 0)
            discovered_invalid(p, "refused", e.message);
    }
}

/* pass scans the plugins folder and brings b->plugins in line with it (r says what changed). */
static int pass(rescan *r, bay_error *err)
{
    broker *b = r->b;
    char **ids = NULL;
    bay__scan_hooks hooks = {scan_folder, scan_refused, r};
    watch_mark(b->watch);
    int rc = bay__manifest_scan(b->opt.plugins_dir, &ids, &hooks, err);
    if (rc)
        return rc; /* the watches stay as they were */
    watch_sweep(b->watch);
    bool ok = true;
    for (size_t i = 0; ok && i < b->nplugins;) {
        plugin *p = b->plugins[i];
        if (bay__strv_has((const char *const *)ids, p->id)) {
            ok = refound(r, p);
            i++;
        } else if (lost(r, p)) {
            memmove(&b->plugins[i], &b->plugins[i + 1], (--b->nplugins - i) * sizeof *b->plugins);
        } else {
            i++;
        }
    }
    for (char **id = ids; ok && *id; id++) {
        if (broker_plugin(b, *id))
            continue;
        plugin *p = plugin_new(b, *id);
        ok = p && found_new(r, p);
    }
    bay__strv_free(ids);
    if (r->nrefused > REFUSED_LOGGED)
        bay__log(BAY_LOG_WARN, NULL, "%zu more entries of %s are refused (`plugbay rescan` lists them all)",
                 r->nrefused - REFUSED_LOGGED, b->opt.plugins_dir);
    if (r->nfresh)
        place(r);
    return ok ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
}

int lifecycle_discover(broker *b, bay_error *err)
{
    rescan r = {.b = b, .discovering = true};
    int rc = pass(&r, err);
    free(r.fresh);
    if (rc)
        return rc;
    for (size_t i = 0; i < bay__state_count(b->state); i++) {
        const char *id = bay__state_at(b->state, i)->id;
        if (broker_plugin(b, id) == NULL)
            bay__log(BAY_LOG_WARN, id, "installed but its folder is gone from %s", b->opt.plugins_dir);
    }
    bay__log(BAY_LOG_INFO, NULL, "found %zu plugins in %s", b->nplugins, b->opt.plugins_dir);
    return 0;
}

/* set_list adds list to report as key (freeing it when report is NULL). */
static void set_list(bay_value *report, const char *key, bay_value *list)
{
    if (report)
        bay_map_set(report, key, list);
    else
        bay_value_free(list);
}

int lifecycle_rescan(broker *b, bay_value *report, bay_error *err)
{
    rescan r = {.b = b};
    if (report) {
        r.added = bay_array(), r.changed = bay_array(), r.gone = bay_array(), r.back = bay_array();
        r.refused = bay_array();
    }
    int rc = pass(&r, err);
    if (rc == 0) {
        bay__log(BAY_LOG_INFO, NULL, "rescanned %s: %zu plugins, %zu new or read again", b->opt.plugins_dir,
                 b->nplugins, r.nfresh);
        for (size_t i = 0; i < r.nfresh; i++) /* installed and enabled (--autoinstall), as at start */
            if (r.fresh[i].added && r.fresh[i].p->life.state == PS_STOPPED)
                lifecycle_load(b, r.fresh[i].p, NULL);
    }
    free(r.fresh);
    if (report) {
        bay_map_set(report, "plugins", bay_int((int64_t)b->nplugins));
        bay_map_set(report, "refused_total", bay_int((int64_t)r.nrefused));
    }
    set_list(report, "added", r.added);
    set_list(report, "changed", r.changed);
    set_list(report, "gone", r.gone);
    set_list(report, "back", r.back);
    set_list(report, "refused", r.refused);
    return rc;
}

void lifecycle_start_enabled(broker *b)
{
    for (size_t i = 0; i < b->nplugins; i++)
        if (b->plugins[i]->life.state == PS_STOPPED)
            lifecycle_load(b, b->plugins[i], NULL);
}

/* load loads p (transition_load); fresh: just installed or enabled, its crash count starts again. */
static int load(broker *b, plugin *p, bool fresh, bay_error *err)
{
    bay_error own;
    if (err == NULL)
        err = &own; /* its message becomes the plugin's reason */
    switch (transition_load(p->life.state, fresh)) {
    case LOAD_NOTHING:
        return 0;
    case LOAD_AFTER_UNLOAD:
        p->life.then_load = true;
        return 0;
    case LOAD_NOT_INSTALLED:
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is not installed; run `plugbay install %s --grant-all` (or --grant PERM for each permission you grant)", p->id, p->id);
    case LOAD_DISABLED:
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is disabled; run `plugbay enable %s`", p->id, p->id);
    case LOAD_INVALID:
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s has an invalid manifest: %s", p->id, p->life.reason);
    case LOAD_START:
        break;
    }
    if (p->life.folder_gone) {
        if (p->life.state == PS_WAITING || p->life.restart_at_ms) { /* not waiting, not restarting any more */
            p->life.restart_at_ms = 0;
            set_state(b, p, p->life.state == PS_WAITING ? PS_STOPPED : PS_FAILED, NULL);
        }
        return bay_error_set(err, BAY_ENOENT, p->id, "%s cannot load: its folder %s/%s is gone; put it back, then "
                             "`plugbay rescan`", p->id, b->opt.plugins_dir, p->id);
    }
    if (fresh)
        p->life.ncrashes = p->life.restarts = 0;
    int rc = depends_ready(b, p, p->m, load_dependency, err);
    if (rc == BAY_EPENDING) {
        if (p->life.state != PS_WAITING)
            set_state(b, p, PS_WAITING, err->message);
        return 0;
    }
    if (rc == 0 && p->m->replicas > b->opt.replicas_max)
        rc = bay_error_set(err, BAY_EPERM, p->id, "%s asks for %d replicas in its plugin.json; this plugbayd "
                           "runs at most %d workers per plugin (--replicas-max)", p->id, p->m->replicas,
                           b->opt.replicas_max);
    if (rc == 0)
        rc = lifecycle_signature(b, p->id, p->m->dir, err);
    if (rc == 0 && (rc = precompile_ready(b, p, p->m, err)) == BAY_EPENDING) { /* it loads on once compiled */
        if (p->life.state != PS_WAITING)
            set_state(b, p, PS_WAITING, "its WebAssembly module is being compiled (wasm2c, cc)");
        return 0;
    }
    if (rc) {
        lifecycle_fail(b, p, err->message);
        return rc;
    }
    p->life.restart_at_ms = 0;
    rc = supervise_spawn(b, p, err);
    if (rc) {
        set_state(b, p, PS_FAILED, err->message);
        return rc;
    }
    set_state(b, p, PS_STARTING, NULL);
    return 0;
}

int lifecycle_load(broker *b, plugin *p, bay_error *err)
{
    return load(b, p, false, err);
}

int lifecycle_load_fresh(broker *b, plugin *p, bay_error *err)
{
    return load(b, p, true, err);
}

/* functions_map builds the load command's map from call names to the plugin's functions. */
static bay_value *functions_map(const bay__manifest *m)
{
    bay_value *fns = bay_map();
    for (size_t i = 0; i < m->nprovides; i++)
        bay_map_set(fns, m->provides[i].name, bay_str(m->provides[i].function));
    for (size_t i = 0; i < m->ntimers; i++) {
        char name[300];
        snprintf(name, sizeof name, "timer:%s", m->timers[i].name);
        bay_map_set(fns, name, bay_str(m->timers[i].function));
    }
    return fns;
}

/* command_to sends COMMAND name with args (taken; NULL: none) to the worker
 * on c and returns its id. */
static uint64_t command_to(broker *b, conn *c, const char *name, bay_value *args)
{
    void *raw = NULL;
    size_t len = 0;
    uint64_t id = ++b->next_call;
    if (args == NULL || bay_value_pack(args, &raw, &len) == 0) {
        bay__frame f = {.type = BAY_F_COMMAND, .id = id, .name = name, .raw = raw, .raw_len = len};
        conn_send(b, c, &f);
    }
    free(raw);
    bay_value_free(args);
    return id;
}

uint64_t lifecycle_send_load(broker *b, plugin *p, const bay__manifest *m, conn *c)
{
    char data[1024];
    bay_value *config = NULL, *manifest = NULL;
    bay_error e;
    if (bay__state_data_dir(b->state, p->id, data, sizeof data, &e) != 0) {
        supervise_kill_worker(b, c, e.message);
        return 0;
    }
    if (bay__value_from_jansson(m->config, &config, &e) != 0 || bay__value_from_jansson(m->doc, &manifest, &e) != 0) {
        bay_value_free(config);
        snprintf(data, sizeof data, "cannot pass its manifest: %s", e.message);
        supervise_kill_worker(b, c, data);
        return 0;
    }
    bay_value *args = bay_map();
    bay_map_set(args, "id", bay_str(p->id));
    bay_map_set(args, "dir", bay_str(m->dir));
    bay_map_set(args, "entry", bay_str(m->entry ? m->entry : m->library));
    if (m->library)
        bay_map_set(args, "library", bay_str(m->library));

    bay_map_set(args, "data_dir", bay_str(data));
    bay_map_set(args, "config", config);
    bay_map_set(args, "manifest", manifest); /* read and validated here once: no bridge opens plugin.json */
    bay_map_set(args, "functions", functions_map(m));
    bay_value *granted = bay_array();
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    for (char **g = sp ? sp->granted : NULL; g && *g; g++)
        bay_array_push(granted, bay_str(*g));
    bay_map_set(args, "permissions", granted);
    bay_value *settings = NULL;
    json_t *values = bay__settings_values(m->settings, sp ? sp->settings : NULL);
    if (values && bay__value_from_jansson(values, &settings, &e) == 0)
        bay_map_set(args, "settings", settings);
    json_decref(values);
    if (sp && (sp->version == NULL || strcmp(sp->version, m->version) != 0)) { /* its first load, or a new version's */
        bay_value *hook = bay_map();
        bay_map_set(hook, "name", bay_str(sp->version ? "on_update" : "on_install"));
        if (sp->version)
            bay_map_set(hook, "from", bay_str(sp->version));
        bay_map_set(args, "hook", hook);
    }
    return command_to(b, c, "load", args);
}

void lifecycle_worker_ready(broker *b, plugin *p, conn *c)
{
    if (c == p->worker) {
        p->life.load_id = lifecycle_send_load(b, p, p->m, c);
        p->life.settings_sent = p->settings_changes;
    } else if (c == p->other_worker && p->life.reload == RELOAD_STARTING && p->life.next) {
        p->life.other_load_id = lifecycle_send_load(b, p, p->life.next, c);
        p->life.other_settings_sent = p->settings_changes;
    }
}

static void withdraw_one(const char *name, void *user)
{
    struct withdrawal *w = user;
    lifecycle_notice(w->b, "provider-removed", name, w->who, "", "");
}

void lifecycle_withdraw(broker *b, void *owner, const char *who)
{
    struct withdrawal w = {b, who};
    bay__registry_remove_owner(b->reg, owner, withdraw_one, &w);
}

static void withdraw(broker *b, plugin *p)
{
    lifecycle_withdraw(b, p, p->id);
}

/* ungranted checks that p was granted provide:NAME for each extension point it
 * provides; else BAY_EPERM with err naming all it lacks and the grant command that gives them. */
static int ungranted(broker *b, plugin *p, bay_error *err)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    char names[300] = "", grants[600] = "";
    size_t nn = 0, ng = 0, missing = 0;
    for (size_t i = 0; i < p->m->nprovides; i++) {
        const char *name = p->m->provides[i].name;
        if (permission_granted(sp ? sp->granted : NULL, "provide", name))
            continue;
        if (nn < sizeof names)
            nn += (size_t)snprintf(names + nn, sizeof names - nn, "%sprovide:%s", missing ? ", " : "", name);
        if (ng < sizeof grants)
            ng += (size_t)snprintf(grants + ng, sizeof grants - ng, " --grant provide:%s", name);
        missing++;
    }
    if (missing == 0)
        return 0;
    return bay_error_set(err, BAY_EPERM, p->id, "%s was not granted %s; grant %s with `plugbay grant %s%s`, then load "
                         "it with `plugbay load %s`", p->id, names, missing == 1 ? "it" : "them", p->id, grants, p->id);
}

/* provide registers p's extension points; on a conflict it withdraws them all. */
static int provide(broker *b, plugin *p, bay_error *err)
{
    int rc = ungranted(b, p, err);
    for (size_t i = 0; rc == 0 && i < p->m->nprovides; i++) {
        const bay__provide_decl *d = &p->m->provides[i];
        if (d->types)
            rc = bay__registry_type(b->reg, d->name, d->kind, d->types, p->id, err);
        if (rc == 0)
            rc = bay__registry_add(b->reg, d->name, d->kind, p, p->id, p->rank, (const char *const *)d->contexts,
                                   err);
        if (rc == 0)
            lifecycle_notice(b, "provider-added", d->name, p->id, "", "");
    }
    if (rc)
        withdraw(b, p);
    return rc;
}

/* loaded_version records the version p's worker loaded, its on_install or
 * on_update done: the next load of that version runs neither; the settings
 * that version no longer declares go (config_adopted). */
static void loaded_version(broker *b, plugin *p)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    bay_error e;
    config_adopted(b, p);
    if (sp && (sp->version == NULL || strcmp(sp->version, p->m->version) != 0) &&
        bay__state_set_version(b->state, p->id, p->m->version, &e) != 0)
        bay__log(BAY_LOG_ERROR, p->id, "version %s loaded, but not recorded (its hook runs again at the next load): %s",
                 p->m->version, e.message);
}

/* start_serving restarts the heartbeat clock of p's worker, which just
 * loaded it, and its manifest's timers. */
static void start_serving(broker *b, plugin *p)
{
    int64_t now = bay__now_ms();
    supervise_loaded(b, p);
    timers_start(p, now);
}

void lifecycle_load_answer(broker *b, plugin *p, const bay__frame *f)
{
    p->life.load_id = 0;
    if (p->life.state == PS_UNLOADING) { /* unloaded while loading: the drain can go on */
        lifecycle_drained(b, p);
        return;
    }
    bay_error e;
    if (f->type == BAY_F_ERROR) {
        bay_error_set(&e, f->code, p->id, "load failed: %s", f->message);
    } else if (provide(b, p, &e) == 0) {
        start_serving(b, p);
        loaded_version(b, p);
        set_state(b, p, PS_LOADED, NULL);
        if (p->life.settings_sent != p->settings_changes) /* changed while it loaded */
            config_resend(b, p);
        lifecycle_settle(b, p);
        return;
    }
    p->life.no_restart = true;
    supervise_kill(b, p, e.message);
}

/* retire stops the old worker of p, which a reload replaced, once it has no
 * call in hand, routed or fast: COMMAND unload, then its exit. */
static void retire(broker *b, plugin *p)
{
    conn *old = p->other_worker;
    if (p->life.reload != RELOAD_DRAINING || p->life.other_unload_id || p->other.kill_sent)
        return;
    if (old && (route_serving(b, old->session) > 0 || fastpath_draining(b, p)))
        return; /* the end of its last call, routed or fast, calls again */
    if (old == NULL || !old->hello_done) {
        supervise_kill_other(b, p, "its previous worker has no connection left to be unloaded through");
        return;
    }
    bay__frame f = {.type = BAY_F_COMMAND, .id = p->life.other_unload_id = ++b->next_call, .name = "unload"};
    conn_send(b, old, &f);
    p->life.other_deadline_ms = bay__now_ms() + UNLOAD_EXIT_MS;
}

/* switch_over makes p's new worker, which loaded the manifest its reload read
 * (life.next), the serving one: its extension points replace the old
 * version's, new calls go to it, and hosts' fast channels to the old worker
 * are revoked; the old worker finishes the calls it has (retire). 0, or the
 * code with err when the new version cannot provide what it declares (the
 * old then keeps serving, its extension points as they were). */
static int switch_over(broker *b, plugin *p, bay_error *err)
{
    bay__manifest *serving = p->m;
    withdraw(b, p);
    p->m = p->life.next;
    int rc = provide(b, p, err);
    p->m = serving;
    bay_error again;
    if (rc) {
        if (provide(b, p, &again) != 0)
            bay__log(BAY_LOG_ERROR, p->id, "version %s cannot provide again: %s", p->m->version, again.message);
        return rc;
    }
    supervise_swap(p);
    timers_retire(p); /* the old worker's timer ticks in flight point into them until it is gone */
    adopt(b, p, p->life.next);
    p->life.next = NULL;
    start_serving(b, p);
    loaded_version(b, p);
    if (p->life.other_settings_sent != p->settings_changes) /* changed while the new worker loaded */
        config_resend(b, p);
    p->life.reload = RELOAD_DRAINING;
    p->life.other_deadline_ms = bay__now_ms() + b->opt.drain_timeout_ms;
    fastpath_retire(b, p, p->other_worker);
    bay__log(BAY_LOG_INFO, p->id, "reloaded: worker %d serves version %s; worker %d finishes its calls, then stops",
            p->proc.pid, p->m->version, p->other.pid);
    set_state(b, p, PS_LOADED, NULL);
    if (b->reloaded)
        b->reloaded(b, p, true, NULL);
    lifecycle_settle(b, p);
    retire(b, p);
    return 0;
}

bool lifecycle_other_answer(broker *b, plugin *p, const bay__frame *f)
{
    if (f->id && f->id == p->life.other_unload_id) {
        p->life.other_unload_id = 0;
        supervise_end_other(b, p);
        return true;
    }
    if (f->id == 0 || f->id != p->life.other_load_id)
        return false;
    p->life.other_load_id = 0;
    if (p->life.reload != RELOAD_STARTING || p->other.kill_sent) /* the reload was given up meanwhile */
        return true;
    bay_error e;
    if (f->type == BAY_F_ERROR)
        bay_error_set(&e, f->code, p->id, "load failed: %s", f->message);
    if (f->type == BAY_F_ERROR || switch_over(b, p, &e) != 0)
        supervise_kill_other(b, p, e.message);
    return true;
}

/* reload_queued starts the reload of p asked for while its previous worker
 * finished its calls, or while its new module compiled, if one was. */
static void reload_queued(broker *b, plugin *p)
{
    if (!p->life.reload_queued)
        return;
    bay_error e;
    p->life.reload_queued = false; /* told to b->reloaded unless it started beside (switch_over or other_gone tells) */
    int rc = lifecycle_reload(b, p, &e);
    if (rc && b->reloaded)
        b->reloaded(b, p, false, e.message);
    else if (rc == 0 && p->life.reload == RELOAD_NONE && !p->life.reload_queued && b->reloaded)
        b->reloaded(b, p, true, NULL);
    if (rc)
        answer_waiters(b, p, e.code, e.message);
    else if (lifecycle_settled(p))
        lifecycle_settle(b, p);
}

/* other_gone cleans up after p's other worker ended (why): the new one of a
 * reload that did not switch — the reload answers why, the old version
 * serving on — or the old one, replaced, which ended once its calls were
 * done (or the drain timeout killed it: its calls in hand fail with why). A
 * reload asked for meanwhile starts now. */
static void other_gone(broker *b, plugin *p, const char *why)
{
    reload_phase was = p->life.reload;
    conn *c = p->other_worker;
    p->life.reload = RELOAD_NONE;
    p->life.other_load_id = p->life.other_unload_id = 0;
    if (c)
        route_fail_provider(b, c->session, NULL, BAY_ECRASHED, why);
    fastpath_worker_gone(b, p, p->worker ? p->worker->session : 0, why);
    if (c)
        conn_close(b, c);
    timers_clear(&p->life.old_timers);
    char msg[sizeof p->life.reason + 200];
    if (was == RELOAD_STARTING) {
        bay__manifest_free(p->life.next);
        p->life.next = NULL;
        if (b->reloaded)
            b->reloaded(b, p, false, why);
        snprintf(msg, sizeof msg, "%s was not reloaded: %s; version %s keeps serving", p->id, why,
                 p->m ? p->m->version : "?");
        bay__log(BAY_LOG_WARN, p->id, "%s", msg);
        if (p->life.state == PS_LOADED)
            answer_waiters(b, p, BAY_EUNAVAIL, msg);
        return;
    }
    bay__log(BAY_LOG_INFO, p->id, "its previous worker ended: %s", why);
    reload_queued(b, p);
}

void lifecycle_compiled(broker *b, plugin *p)
{
    if (p->life.state == PS_WAITING)
        lifecycle_load(b, p, NULL);
    else if (p->life.reload == RELOAD_NONE)
        reload_queued(b, p);
}

int lifecycle_signature(broker *b, const char *id, const char *dir, bay_error *err)
{
    if (b->opt.sig_policy == BAY_SIG_OFF)
        return 0;
    bay__sig_info si;
    bay_error why;
    int rc = bay__signature_verify(dir, b->opt.trusted_keys, &si, &why);
    if (rc == 0)
        bay__log(BAY_LOG_INFO, id, "%zu files signed by trusted key %s%s%s%s", si.nfiles, si.key_id,
                si.signer[0] ? " (" : "", si.signer, si.signer[0] ? ")" : "");
    else if (b->opt.sig_policy == BAY_SIG_WARN)
        bay__log(BAY_LOG_WARN, id, "%s (used anyway: --signature-policy warn)", why.message);
    else
        bay_error_set(err, rc, id, "refused by --signature-policy require-signed: %s", why.message);
    return b->opt.sig_policy == BAY_SIG_REQUIRE ? rc : 0;
}

int lifecycle_disable(broker *b, plugin *p, const char *why, bay_error *err)
{
    bay_error e;
    if (bay__state_set_enabled(b->state, p->id, false, &e) != 0)
        return bay_error_set(err, e.code, p->id, "%s stays enabled: %s", p->id, e.message);
    snprintf(p->life.rest_why, sizeof p->life.rest_why, "%s", why);
    int rc = lifecycle_unload(b, p, false, PS_DISABLED, err);
    if (rc)
        p->life.rest_why[0] = '\0';
    return rc;
}

void lifecycle_fail(broker *b, plugin *p, const char *why)
{
    p->life.restart_at_ms = 0;
    set_state(b, p, PS_FAILED, why);
    lifecycle_settle(b, p);
}

/* come_to_rest puts p in the state its unload ends in (life.rest), with the reason lifecycle_disable gave it, if
 * any. */
static void come_to_rest(broker *b, plugin *p)
{
    set_state(b, p, p->life.rest, p->life.rest_why[0] ? p->life.rest_why : NULL);
    p->life.rest_why[0] = '\0';
    bay_error e;
    if (p->life.rest == PS_AVAILABLE && bay__state_find(b->state, p->id) == NULL && p->proc.pid == 0 &&
        bay__state_remove_data(b->state, p->id, &e) != 0) /* uninstalled: its data goes with it */
        bay__log(BAY_LOG_ERROR, p->id, "uninstalled, but its data folder stays: %s", e.message);
}

int lifecycle_unload(broker *b, plugin *p, bool then_load, plugin_state rest, bay_error *err)
{
    char users[300];
    if (!then_load && !b->stopping && depends_users(b, p, users, sizeof users) > 0)
        return bay_error_set(err, BAY_EBUSY, p->id, "%s is in use by %s, which depend%s on it; unload %s first", p->id,
                             users, strchr(users, ',') ? "" : "s", strchr(users, ',') ? "them" : "it");
    p->life.then_load = then_load;
    p->life.rest = rest;
    give_up_reload(b, p, "unloaded while its reload was starting");
    switch (p->life.state) {
    case PS_LOADED:
        withdraw(b, p);
        fastpath_drain(b, p, p->worker); /* before the state change ends the grants it asks about */
        set_state(b, p, PS_UNLOADING, NULL);
        p->life.unload_deadline_ms = bay__now_ms() + b->opt.drain_timeout_ms;
        lifecycle_drained(b, p);
        return 0;
    case PS_STARTING:
        set_state(b, p, PS_UNLOADING, NULL);
        p->life.unload_deadline_ms = bay__now_ms() + b->opt.drain_timeout_ms;
        if (p->life.load_id == 0)
            lifecycle_drained(b, p);
        return 0;
    case PS_UNLOADING:
        return 0;
    case PS_FAILED:
        if (p->proc.pid) /* being killed: its exit finishes the unload */
            return 0;
        p->life.restart_at_ms = 0; /* not running: forget a scheduled restart */
        /* fall through */
    case PS_STOPPED:
    case PS_DISABLED:
    case PS_WAITING:
        if (p->life.state != rest || p->life.rest_why[0])
            come_to_rest(b, p);
        return then_load ? lifecycle_load(b, p, err) : 0;
    default:
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is %s, not loaded", p->id, plugin_state_name(p->life.state));
    }
}

/* lifecycle_drained goes on with p's unload once nothing is in flight: no
 * call it routed, no fast call (fastpath_draining); then COMMAND unload. */
void lifecycle_drained(broker *b, plugin *p)
{
    retire(b, p);
    if (p->life.state != PS_UNLOADING || p->stats.inflight > 0 || fastpath_draining(b, p))
        return; /* the end of the last call, routed or fast, calls again */
    if (p->worker == NULL || !p->worker->hello_done) {
        supervise_kill(b, p, "unloaded before its worker started");
        return;
    }
    bay_value *args = NULL;
    if (p->life.rest == PS_AVAILABLE) { /* uninstalled: on_uninstall runs first (plugin.h), in the unload's time */
        args = bay_map();
        bay_map_set(args, "uninstall", bay_bool(true));
    }
    p->life.unload_id = command_to(b, p->worker, "unload", args);
    p->life.unload_deadline_ms = bay__now_ms() + UNLOAD_EXIT_MS;
}

void lifecycle_unload_answer(broker *b, plugin *p)
{
    p->life.unload_id = 0;
    supervise_end(b, p);
}

/* crashed decides between a restart with backoff and staying failed. A
 * restart counts when it is scheduled, so that status's restarts and the
 * reason ("restart N", "after N restarts") tell the same number. */
static void crashed(broker *b, plugin *p, const char *why)
{
    int64_t now = bay__now_ms();
    p->life.crashes[p->life.ncrashes++ % 16] = now;
    int recent = 0;
    for (int i = 0; i < 16 && i < p->life.ncrashes; i++)
        recent += now - p->life.crashes[i] <= b->opt.restart_window_ms;
    char reason[512];
    if (p->life.no_restart) {
        set_state(b, p, PS_FAILED, why);
    } else if (recent >= b->opt.restart_limit) {
        snprintf(reason, sizeof reason, "%s; it failed %d times within %d s (after %d restart%s), so it stays failed "
                 "until `plugbay enable %s`", why, recent, b->opt.restart_window_ms / 1000, p->life.restarts,
                 p->life.restarts == 1 ? "" : "s", p->id);
        set_state(b, p, PS_FAILED, reason);
        bay_error e;
        if (bay__state_set_failed(b->state, p->id, reason, &e) != 0)
            bay__log(BAY_LOG_ERROR, p->id, "its failure is not saved (it loads again when plugbayd restarts): %s",
                    e.message);
    } else {
        int64_t backoff = 100LL << (recent > 6 ? 6 : recent - 1);
        if (backoff > 5000)
            backoff = 5000;
        p->life.restart_at_ms = now + backoff;
        p->life.restarts++;
        snprintf(reason, sizeof reason, "%s; restarting in %lld ms (restart %d)", why, (long long)backoff,
                 p->life.restarts);
        set_state(b, p, PS_FAILED, reason);
    }
}

void lifecycle_worker_gone(broker *b, plugin *p, bool other, const char *why)
{
    if (other) {
        other_gone(b, p, why);
        return;
    }
    plugin_state was = p->life.state;
    give_up_reload(b, p, "its serving worker ended while the new one was starting");
    route_fail_provider(b, p->worker ? p->worker->session : 0, p, BAY_ECRASHED, why);
    fastpath_worker_gone(b, p, p->other_worker ? p->other_worker->session : 0, why);
    if (p->worker)
        conn_close(b, p->worker);
    withdraw(b, p);
    if (p->life.next && p->life.reload == RELOAD_NONE) { /* a reload read it: the next load takes it */
        adopt(b, p, p->life.next);
        p->life.next = NULL;
    }
    if (was == PS_UNLOADING) {
        come_to_rest(b, p);
        if (p->life.then_load) {
            p->life.then_load = false;
            lifecycle_load(b, p, NULL);
            if (p->life.state == PS_STARTING)
                return; /* waiters hear when the new load settles */
        }
    } else if (was == PS_LOADED || was == PS_STARTING) {
        crashed(b, p, why);
    }
    p->life.no_restart = false;
    lifecycle_settle(b, p);
}

int64_t lifecycle_tick(broker *b, int64_t now)
{
    int64_t next = 0;
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *p = b->plugins[i];
        int64_t due = 0;
        if (p->life.reload == RELOAD_DRAINING && p->other.pid && !p->other.kill_sent) {
            if (now >= p->life.other_deadline_ms) {
                char why[200] = "its previous worker did not exit after its unload";
                if (p->life.other_unload_id == 0)
                    snprintf(why, sizeof why, "its previous worker's calls in flight outlasted the drain timeout of "
                             "%d ms (--drain-timeout-ms)", b->opt.drain_timeout_ms);
                supervise_kill_other(b, p, why);
            } else {
                next = next == 0 || p->life.other_deadline_ms < next ? p->life.other_deadline_ms : next;
            }
        }
        if (p->life.state == PS_FAILED && p->life.restart_at_ms) {
            if (now >= p->life.restart_at_ms) {
                bay__log(BAY_LOG_INFO, p->id, "restarting (restart %d)", p->life.restarts);
                lifecycle_load(b, p, NULL);
                continue;
            }
            due = p->life.restart_at_ms;
        } else if (p->life.state == PS_UNLOADING) {
            if (now >= p->life.unload_deadline_ms && !p->proc.kill_sent) {
                char why[200] = "did not finish unloading in time";
                if (p->stats.inflight > 0 || fastpath_draining(b, p))
                    snprintf(why, sizeof why, "did not finish unloading in time: calls in flight outlasted the "
                             "drain timeout of %d ms (--drain-timeout-ms)", b->opt.drain_timeout_ms);
                supervise_kill(b, p, why);
                continue;
            }
            due = p->life.unload_deadline_ms;
        } else if (p->life.state == PS_LOADED) {
            due = timers_tick(b, p, now);
        }
        if (due && (next == 0 || due < next))
            next = due;
    }
    return next;
}

void lifecycle_free(broker *b)
{
    for (size_t i = 0; i < b->nplugins; i++)
        plugin_free(b->plugins[i]);
    free(b->plugins);
    b->plugins = NULL;
    b->nplugins = 0;
}
