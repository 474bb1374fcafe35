/* broker/command.c — the broker's commands (list, info, install, load, ..., status) for the CLI and hosts. */
#include "broker.h"
#include "command.h"
#include "conn.h"
#include "depends.h"
#include "fastpath.h"
#include "lifecycle.h"
#include "route.h"
#include "supervise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "value_convert.h"

static bay_value *strv_value(char *const *v, size_t n)
{
    bay_value *a = bay_array();
    for (size_t i = 0; v && i < n; i++)
        bay_array_push(a, bay_str(v[i]));
    return a;
}

static void set_str(bay_value *map, const char *key, const char *s)
{
    bay_map_set(map, key, s ? bay_str(s) : bay_nil());
}

/* summary is what list shows of one plugin; info and status add to it. */
static bay_value *summary(const plugin *p)
{
    bay_value *v = bay_map();
    bay_map_set(v, "id", bay_str(p->id));
    set_str(v, "name", p->m ? p->m->name : NULL);
    set_str(v, "version", p->m ? p->m->version : NULL);
    set_str(v, "language", p->m ? p->m->language : NULL);
    bay_map_set(v, "state", bay_str(plugin_state_name(p->life.state)));
    bay_map_set(v, "enabled", bay_bool(p->life.state != PS_AVAILABLE && p->life.state != PS_DISABLED));
    bay_value *provides = bay_array();
    for (size_t i = 0; p->m && i < p->m->nprovides; i++)
        bay_array_push(provides, bay_str(p->m->provides[i].name));
    bay_map_set(v, "provides", provides);
    bay_map_set(v, "restarts", bay_int(p->life.restarts));
    bay_map_set(v, "reason", bay_str(p->life.reason));
    return v;
}

static int by_value(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* add_runtime adds what p is doing now: pid, calls, errors, call times of the
 * last 256 calls (p50/p99, µs), CPU time and PSS of its worker, and what its
 * sandbox refused (kind -> count, and in all). */
static void add_runtime(bay_value *v, const plugin *p)
{
    bay_map_set(v, "pid", bay_int(p->proc.pid));
    bay_map_set(v, "calls", bay_int((int64_t)p->stats.calls));
    bay_map_set(v, "errors", bay_int((int64_t)p->stats.errors));
    bay_map_set(v, "inflight", bay_int(p->stats.inflight));
    size_t cap = sizeof p->stats.latency_us / sizeof *p->stats.latency_us, n = p->stats.nlatency < cap ? p->stats.nlatency : cap;
    float sorted[sizeof p->stats.latency_us / sizeof *p->stats.latency_us];
    memcpy(sorted, p->stats.latency_us, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_value);
    bay_map_set(v, "p50_us", n ? bay_int((int64_t)sorted[n / 2]) : bay_nil());
    bay_map_set(v, "p99_us", n ? bay_int((int64_t)sorted[n * 99 / 100]) : bay_nil());
    int64_t cpu_ms, pss_kb;
    supervise_usage(p->proc.pid, &cpu_ms, &pss_kb);
    bay_map_set(v, "cpu_ms", cpu_ms >= 0 ? bay_int(cpu_ms) : bay_nil());
    bay_map_set(v, "pss_kb", pss_kb >= 0 ? bay_int(pss_kb) : bay_nil());
    bay_map_set(v, "refused_total", bay_int(p->proc.refused_total));
    bay_map_set(v, "refused", p->proc.refused ? bay_value_copy(p->proc.refused) : bay_map());
}

static bay_value *info(broker *b, const plugin *p)
{
    bay_value *v = summary(p);
    add_runtime(v, p);
    const bay__manifest *m = p->m;
    if (m == NULL)
        return v;
    static const char *const keys[] = {"brief", "description", "author", "site", "email", "license", "entry",
                                       "host"};
    const char *vals[] = {m->brief, m->description, m->author, m->site, m->email, m->license, m->entry, m->host};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        set_str(v, keys[i], vals[i]);
    set_str(v, "dir", m->dir);
    char data[1024];
    snprintf(data, sizeof data, "%s/data/%s", bay__state_dir(b->state), p->id);
    set_str(v, "data_dir", data);
    bay_value *provides = bay_array();
    for (size_t i = 0; i < m->nprovides; i++) {
        bay_value *d = bay_map();
        bay_map_set(d, "name", bay_str(m->provides[i].name));
        bay_map_set(d, "kind", bay_str(bay__kind_name(m->provides[i].kind)));
        bay_map_set(d, "function", bay_str(m->provides[i].function));
        size_t n = 0;
        while (m->provides[i].contexts && m->provides[i].contexts[n])
            n++;
        bay_map_set(d, "contexts", m->provides[i].contexts ? strv_value(m->provides[i].contexts, n) : bay_nil());
        bay_array_push(provides, d);
    }
    bay_map_set(v, "provides", provides);
    bay_value *timers = bay_array();
    for (size_t i = 0; i < m->ntimers; i++) {
        bay_value *t = bay_map();
        bay_map_set(t, "name", bay_str(m->timers[i].name));
        bay_map_set(t, "interval_ms", bay_int(m->timers[i].interval_ms));
        bay_array_push(timers, t);
    }
    bay_map_set(v, "timers", timers);
    bay_value *deps = bay_map();
    for (size_t i = 0; i < m->ndeps; i++)
        bay_map_set(deps, m->deps[i].id, bay_str(m->deps[i].range));
    bay_map_set(v, "dependencies", deps);
    bay_map_set(v, "permissions", strv_value(m->permissions, m->npermissions));
    char **requested = permission_requested(m);
    size_t nreq = 0;
    while (requested && requested[nreq])
        nreq++;
    bay_map_set(v, "requested", strv_value(requested, nreq));
    bay__strv_free(requested);
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    size_t ngranted = 0;
    while (sp && sp->granted[ngranted])
        ngranted++;
    bay_map_set(v, "granted", sp ? strv_value(sp->granted, ngranted) : bay_nil());
    char users[300];
    size_t nusers = depends_users(b, p, users, sizeof users);
    bay_map_set(v, "used_by", bay_str(nusers ? users : ""));
    bay_value *config = NULL;
    if (bay__value_from_jansson(m->config, &config, NULL) == 0)
        bay_map_set(v, "config", config);
    return v;
}

static bay_value *status(broker *b)
{
    bay_value *v = bay_map(), *br = bay_map(), *plugins = bay_array(), *eps = bay_array();
    bay_map_set(br, "version", bay_str(b->version));
    bay_map_set(br, "pid", bay_int(getpid()));
    bay_map_set(br, "uptime_ms", bay_int(bay__now_ms() - b->started_ms));
    bay_map_set(br, "plugins_dir", bay_str(b->opt.plugins_dir));
    bay_map_set(br, "state_dir", bay_str(b->opt.state_dir));
    bay_map_set(br, "url", bay_str(b->url));
    bay_map_set(br, "connections", bay_int((int64_t)bay__idmap_count(b->conns)));
    bay_map_set(br, "calls_in_flight", bay_int((int64_t)route_in_flight(b)));
    bay_map_set(br, "fast_channels", bay_int((int64_t)fastpath_count(b)));
    for (size_t i = 0; i < b->nplugins; i++) {
        bay_value *s = summary(b->plugins[i]);
        add_runtime(s, b->plugins[i]);
        bay_array_push(plugins, s);
    }
    for (size_t i = 0; i < bay__registry_count(b->reg); i++) {
        const bay__extpoint *e = bay__registry_at(b->reg, i);
        bay_value *ev = bay_map(), *prov = bay_array();
        bay_map_set(ev, "name", bay_str(e->name));
        bay_map_set(ev, "kind", bay_str(bay__kind_name(e->kind)));
        bay_map_set(ev, "declared_by", bay_str(e->declared_by));
        for (size_t j = 0; j < e->nproviders; j++)
            bay_array_push(prov, bay_str(e->providers[j]->owner_name));
        bay_map_set(ev, "providers", prov);
        bay_array_push(eps, ev);
    }
    bay_map_set(v, "broker", br);
    bay_map_set(v, "plugins", plugins);
    bay_map_set(v, "extension_points", eps);
    return v;
}

/* not_saved reports a change to p the state folder did not take (what: what
 * that means, "not installed") with the state's reason, to the caller in err
 * and in the log. */
static void not_saved(broker *b, const plugin *p, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, bay__state_error(b->state));
    bay__log(BAY_LOG_ERROR, p->id, "%s", err);
}

/* unload_for unloads p for uninstall or disable. The unload, which may
 * refuse, first ends as `plugbay unload` would; only once the state took the
 * change does it end available or disabled. So a save that fails leaves p
 * installed and enabled, as the state says, only unloaded. */
static int unload_for(broker *b, plugin *p, bool disable, char *err, size_t errlen)
{
    int rc = lifecycle_unload(b, p, false, p->life.state == PS_DISABLED ? PS_DISABLED : PS_STOPPED, err, errlen);
    if (rc)
        return rc;
    rc = disable ? bay__state_set_enabled(b->state, p->id, false) : bay__state_uninstall(b->state, p->id);
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    if (rc && sp) {
        not_saved(b, p, disable ? "not disabled (unloaded, still enabled)"
                                : "not uninstalled (unloaded, still installed)", err, errlen);
        return rc;
    }
    int moved = lifecycle_unload(b, p, false, sp ? PS_DISABLED : PS_AVAILABLE, err, errlen);
    if (rc) /* uninstalled all the same */
        not_saved(b, p, "uninstalled, but its data folder stays", err, errlen);
    return rc ? rc : moved;
}

/* choose picks what the command's "grant" and "grant_all" give p (permission_choose). */
static int choose(const plugin *p, const bay_value *args, char ***out, char *err, size_t errlen)
{
    bay_error e;
    int rc = permission_choose(p->id, p->m, bay_map_get(args, "grant"), bay_value_bool(bay_map_get(args, "grant_all")),
                               out, &e);
    if (rc)
        snprintf(err, errlen, "%s", e.message);
    return rc;
}

/* grant adds permissions to an installed plugin; calls see them at once,
 * provides at its next load. Answers at once. */
static int grant(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, char *err, size_t errlen)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    if (sp == NULL) {
        snprintf(err, errlen, "%s is not installed; run `plugbay install %s`", p->id, p->id);
        return BAY_ESTATE;
    }
    char **chosen;
    int rc = choose(p, args, &chosen, err, errlen);
    if (rc)
        return rc;
    bay_value *all = bay_array();
    for (char **g = sp->granted; *g; g++)
        bay_array_push(all, bay_str(*g));
    for (char **g = chosen; *g; g++)
        bay_array_push(all, bay_str(*g));
    bay__strv_free(chosen);
    size_t n = bay_value_len(all);
    const char **list = calloc(n + 1, sizeof *list);
    for (size_t i = 0; list && i < n; i++)
        list[i] = bay_value_str(bay_array_get(all, i), NULL);
    rc = list ? bay__state_set_granted(b->state, p->id, list) : BAY_ENOMEM;
    free(list);
    if (rc == 0) {
        bay_value *v = bay_map();
        bay_map_set(v, "id", bay_str(p->id));
        bay_map_set(v, "state", bay_str(plugin_state_name(p->life.state)));
        bay_map_set(v, "granted", all);
        conn_send_value(b, c, f->id, v);
        bay_value_free(v);
        return 0;
    }
    not_saved(b, p, "not granted", err, errlen);
    bay_value_free(all);
    return rc;
}

/* lifecycle runs a command on one plugin; the answer waits until the plugin settles. */
static int lifecycle(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, char *err,
                     size_t errlen)
{
    const char *cmd = f->name;
    int rc = 0;
    if (strcmp(cmd, "install") == 0) {
        if (p->life.state != PS_AVAILABLE) {
            snprintf(err, errlen, "%s is already installed (%s)", p->id, plugin_state_name(p->life.state));
            return BAY_EEXIST;
        }
        if (p->m == NULL) {
            snprintf(err, errlen, "%s cannot be installed: %s", p->id, p->life.reason);
            return BAY_EMANIFEST;
        }
        char **granted;
        if ((rc = lifecycle_signature(b, p, err, errlen)) != 0)
            return rc;
        rc = choose(p, args, &granted, err, errlen);
        if (rc)
            return rc;
        rc = bay__state_install(b->state, p->id, (const char *const *)granted, NULL);
        bay__strv_free(granted);
        if (rc)
            not_saved(b, p, "not installed", err, errlen);
        if (rc == 0)
            rc = lifecycle_load_fresh(b, p, err, errlen);
    } else if (strcmp(cmd, "uninstall") == 0 || strcmp(cmd, "disable") == 0) {
        if (p->life.state == PS_AVAILABLE) {
            snprintf(err, errlen, "%s is not installed", p->id);
            return BAY_ESTATE;
        }
        rc = unload_for(b, p, strcmp(cmd, "disable") == 0, err, errlen);
    } else if (strcmp(cmd, "enable") == 0) {
        if (p->life.state == PS_AVAILABLE) {
            snprintf(err, errlen, "%s is not installed; run `plugbay install %s`", p->id, p->id);
            return BAY_ESTATE;
        }
        rc = bay__state_set_failed(b->state, p->id, NULL);
        if (rc == 0)
            rc = bay__state_set_enabled(b->state, p->id, true);
        if (rc)
            not_saved(b, p, "not enabled", err, errlen);
        if (rc == 0 && (p->life.state == PS_DISABLED || p->life.state == PS_FAILED || p->life.state == PS_STOPPED))
            rc = lifecycle_load_fresh(b, p, err, errlen);
    } else if (strcmp(cmd, "grant") == 0) {
        return grant(b, c, f, p, args, err, errlen);
    } else if (strcmp(cmd, "load") == 0) {
        rc = lifecycle_load(b, p, err, errlen);
    } else if (strcmp(cmd, "unload") == 0 || strcmp(cmd, "reload") == 0) {
        rc = lifecycle_unload(b, p, strcmp(cmd, "reload") == 0, PS_STOPPED, err, errlen);
    } else {
        snprintf(err, errlen, "unknown command \"%s\" (commands: list, info, install, uninstall, enable, disable, "
                              "grant, load, unload, reload, status)", cmd);
        return BAY_ENOENT;
    }
    if (rc == 0 && strcmp(cmd, "grant") != 0) {
        lifecycle_add_waiter(p, c->session, f->id);
        if (p->life.state != PS_STARTING && p->life.state != PS_UNLOADING && p->life.state != PS_WAITING)
            lifecycle_settle(b, p);
    }
    return rc;
}

void command_handle(broker *b, conn *c, const bay__frame *f)
{
    if (strcmp(f->name, "channel") == 0) {
        fastpath_request(b, c, f);
        return;
    }
    bay_value *args = NULL, *out = NULL;
    char err[768] = "";
    bay_error e;
    int rc = f->value ? bay__value_from_object(f->value, &args, &e) : 0;
    if (rc)
        snprintf(err, sizeof err, "%s", e.message);
    if (rc == 0 && strcmp(f->name, "list") == 0) {
        out = bay_array();
        for (size_t i = 0; i < b->nplugins; i++)
            bay_array_push(out, summary(b->plugins[i]));
    } else if (rc == 0 && strcmp(f->name, "status") == 0) {
        out = status(b);
    } else if (rc == 0) {
        const char *id = bay_value_str(bay_map_get(args, "id"), NULL);
        plugin *p = id ? plugin_find(b, id) : NULL;
        if (id == NULL) {
            rc = BAY_EINVAL;
            snprintf(err, sizeof err, "command \"%s\" needs {\"id\": PLUGIN-ID}", f->name);
        } else if (p == NULL) {
            rc = BAY_ENOENT;
            snprintf(err, sizeof err, "no plugin \"%s\" in %s (see `plugbay list`)", id, b->opt.plugins_dir);
        } else if (strcmp(f->name, "info") == 0) {
            out = info(b, p);
        } else {
            rc = lifecycle(b, c, f, p, args, err, sizeof err);
            bay_value_free(args);
            if (rc)
                conn_send_error(b, c, f->id, rc, p->id, "%s", err);
            return;
        }
    }
    if (rc)
        conn_send_error(b, c, f->id, rc, NULL, "%s", err);
    else
        conn_send_value(b, c, f->id, out);
    bay_value_free(out);
    bay_value_free(args);
}
