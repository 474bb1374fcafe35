/* broker/command.c — the broker's commands (list, info, install, load, ..., status) for the CLI and hosts. */
#include "broker.h"
#include "command.h"
#include "config.h"
#include "console.h"
#include "conn.h"
#include "depends.h"
#include "fastpath.h"
#include "follow.h"
#include "incoming.h"
#include "inspect.h"
#include "lifecycle.h"
#include "logs.h"
#include "metrics.h"
#include "offer.h"
#include "panel.h"
#include "precompile.h"
#include "provide.h"
#include "replica.h"
#include "route.h"
#include "setting.h"
#include "supervise.h"
#include "translate.h"
#include "update.h"

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

/* list_value returns the NULL-terminated list v (not NULL) as an array of strings. */
static bay_value *list_value(char *const *v)
{
    return strv_value(v, bay__strv_len((const char *const *)v));
}

static void set_str(bay_value *map, const char *key, const char *s)
{
    bay_map_set(map, key, s ? bay_str(s) : bay_nil());
}

/* locale_of returns the "locale" command args ask texts in, or NULL (the manifest's own). */
static const char *locale_of(const bay_value *args)
{
    return bay_value_str(bay_map_get(args, "locale"), NULL);
}

/* summary is what list shows of one plugin, its name and brief in locale (NULL: the manifest's); info and status
 * add to it. */
static bay_value *summary(broker *b, const plugin *p, const char *locale)
{
    bay_value *v = bay_map();
    bay_map_set(v, "id", bay_str(p->id));
    set_str(v, "name", p->m ? bay__translate_text(p->m, locale, "name") : NULL);
    set_str(v, "brief", p->m ? bay__translate_text(p->m, locale, "brief") : NULL);
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
    bay_map_set(v, "last_failure", p->life.last_failure[0] ? bay_str(p->life.last_failure) : bay_nil());
    bay_map_set(v, "last_failure_ms", p->life.last_failure_at ? bay_int(p->life.last_failure_at) : bay_nil());
    bool by_operator;
    bay_map_set(v, "order", bay_int(lifecycle_order(b, p, &by_operator)));
    bay_map_set(v, "order_by", bay_str(by_operator ? "operator" : "manifest"));
    return v;
}

static int by_value(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* add_runtime adds what p is doing now: pid (and uid, when its worker has one of its own), calls and errors (fast
 * ones too, as its workers reported them), call times of the last 256 calls plugbayd routed (p50/p99, µs), CPU time
 * and PSS of its workers (replicas too), what its sandbox refused (kind -> count, and in all), the replicas its
 * manifest asks for and those running (each with its own CPU time and PSS). */
static void add_runtime(bay_value *v, const plugin *p)
{
    bay_map_set(v, "pid", bay_int(p->proc.pid));
    if (p->proc.uid)
        bay_map_set(v, "uid", bay_int(p->proc.uid));
    bay_map_set(v, "calls", bay_int((int64_t)p->stats.total.calls));
    bay_map_set(v, "errors", bay_int((int64_t)p->stats.total.errors));
    bay_map_set(v, "inflight", bay_int(p->stats.inflight));
    bay_map_set(v, "waiting", bay_int(p->stats.waiting));
    size_t cap = sizeof p->stats.latency_us / sizeof *p->stats.latency_us, n = p->stats.nlatency < cap ? p->stats.nlatency : cap;
    float sorted[sizeof p->stats.latency_us / sizeof *p->stats.latency_us];
    memcpy(sorted, p->stats.latency_us, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_value);
    bay_map_set(v, "p50_us", n ? bay_int((int64_t)sorted[n / 2]) : bay_nil());
    bay_map_set(v, "p99_us", n ? bay_int((int64_t)sorted[n * 99 / 100]) : bay_nil());
    int64_t cpu_ms, pss_kb;
    supervise_usage(p->proc.pid, &cpu_ms, &pss_kb);
    bay_value *replicas = replica_info(p, &cpu_ms, &pss_kb); /* their CPU time and PSS count in the plugin's */
    bay_map_set(v, "cpu_ms", cpu_ms >= 0 ? bay_int(cpu_ms) : bay_nil());
    bay_map_set(v, "pss_kb", pss_kb >= 0 ? bay_int(pss_kb) : bay_nil());
    bay_map_set(v, "refused_total", bay_int(p->proc.refused_total));
    bay_map_set(v, "refused", p->proc.refused ? bay_value_copy(p->proc.refused) : bay_map());
    bay_map_set(v, "replicas", bay_int(p->m ? p->m->replicas : 1));
    bay_map_set(v, "replica_workers", replicas);
}

/* order_note writes to out why p loads later than its place says: the
 * dependencies placed after it that it still comes after ("" when none). */
static const char *order_note(broker *b, const plugin *p, char *out, size_t len)
{
    int64_t mine = lifecycle_order(b, p, NULL);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; p->m && i < p->m->ndeps && used < len; i++) {
        const plugin *d = broker_plugin(b, p->m->deps[i].id);
        int64_t theirs = d ? lifecycle_order(b, d, NULL) : mine;
        if (theirs > mine)
            used += (size_t)snprintf(out + used, len - used, "%s%s (order %lld)", used ? ", " : "", d->id,
                                     (long long)theirs);
    }
    if (used && used < len)
        snprintf(out + used, len - used, " come%s first: a plugin loads after its dependencies whatever its order",
                 strchr(out, ',') ? "" : "s");
    return out;
}

/* panels_value returns m's panels: [{"panel", "title" (in locale), "entry"}]. */
static bay_value *panels_value(const bay__manifest *m, const char *locale)
{
    bay_value *a = bay_array();
    for (size_t i = 0; i < m->npanels; i++) {
        bay_value *d = bay_map();
        bay_map_set(d, "panel", bay_str(m->panels[i].panel));
        bay_map_set(d, "title", bay_str(bay__translate_title(m, locale, &m->panels[i])));
        bay_map_set(d, "entry", bay_str(m->panels[i].entry));
        bay_array_push(a, d);
    }
    return a;
}

static bay_value *info(broker *b, const plugin *p, const char *locale)
{
    bay_value *v = summary(b, p, locale);
    add_runtime(v, p);
    const bay__manifest *m = p->m;
    if (m == NULL)
        return v;
    static const char *const keys[] = {"description", "author", "site", "email", "license", "entry", "host",
                                       "locale"};
    const char *vals[] = {bay__translate_text(m, locale, "description"), m->author, m->site, m->email, m->license,
                          m->entry, m->host, m->locale};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        set_str(v, keys[i], vals[i]);
    set_str(v, "dir", m->dir);
    char data[1024];
    snprintf(data, sizeof data, "%s/data/%s", bay__state_dir(b->state), p->id);
    set_str(v, "data_dir", data);
    int64_t compile_ms = precompile_ms(b, p->id);
    if (strcmp(m->language, "wasm") == 0)
        bay_map_set(v, "compile_ms", compile_ms >= 0 ? bay_int(compile_ms) : bay_nil());
    bay_value *provides = bay_array();
    for (size_t i = 0; i < m->nprovides; i++) {
        bay_value *d = bay_map();
        bay_map_set(d, "name", bay_str(m->provides[i].name));
        bay_map_set(d, "kind", bay_str(bay__kind_name(m->provides[i].kind)));
        bay_map_set(d, "function", bay_str(m->provides[i].function));
        bay_map_set(d, "contexts", m->provides[i].contexts ? list_value(m->provides[i].contexts) : bay_nil());
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
    bay_map_set(v, "panels", panels_value(m, locale));
    bay_value *deps = bay_map();
    for (size_t i = 0; i < m->ndeps; i++)
        bay_map_set(deps, m->deps[i].id, bay_str(m->deps[i].range));
    bay_map_set(v, "dependencies", deps);
    char after[300];
    bay_map_set(v, "order_note", bay_str(order_note(b, p, after, sizeof after)));
    bay_map_set(v, "permissions", strv_value(m->permissions, m->npermissions));
    char **requested = permission_requested(m);
    bay_map_set(v, "requested", requested ? list_value(requested) : bay_array());
    bay__strv_free(requested);
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    bay_map_set(v, "granted", sp ? list_value(sp->granted) : bay_nil());
    char users[300];
    size_t nusers = depends_users(b, p, users, sizeof users);
    bay_map_set(v, "used_by", bay_str(nusers ? users : ""));
    bay_value *config = NULL;
    if (bay__value_from_jansson(m->config, &config, NULL) == 0)
        bay_map_set(v, "config", config);
    return v;
}

/* provider_contexts returns e's providers in load order with the contexts each takes (nil: every context). */
static bay_value *provider_contexts(const bay__extpoint *e)
{
    bay_value *a = bay_array();
    for (size_t j = 0; j < e->nproviders; j++) {
        bay_value *d = bay_map();
        bay_map_set(d, "plugin", bay_str(e->providers[j]->owner_name));
        bay_map_set(d, "contexts", e->providers[j]->contexts ? list_value(e->providers[j]->contexts) : bay_nil());
        bay_array_push(a, d);
    }
    return a;
}

static bay_value *status(broker *b, const char *locale)
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
    bay_map_set(br, "unknown_calls", bay_int((int64_t)bay__registry_unknown(b->reg)));
    follow_status(b, br);
    for (size_t i = 0; i < b->nplugins; i++) {
        bay_value *s = summary(b, b->plugins[i], locale);
        add_runtime(s, b->plugins[i]);
        bay_array_push(plugins, s);
    }
    for (size_t i = 0; i < bay__registry_count(b->reg); i++) {
        const bay__extpoint *e = bay__registry_at(b->reg, i);
        bay_value *ev = bay_map(), *prov = bay_array();
        bay_map_set(ev, "name", bay_str(e->name));
        bay_map_set(ev, "kind", bay_str(bay__kind_name(e->kind)));
        bay_map_set(ev, "declared_by", bay_str(e->declared_by));
        if (e->types) {
            char *text = json_dumps(e->types, JSON_COMPACT);
            bay_value *types = NULL;
            if (text && bay_value_from_json(text, &types, NULL, 0) == 0)
                bay_map_set(ev, "types", types);
            free(text);
            bay_map_set(ev, "typed_by", bay_str(e->typed_by));
        }
        for (size_t j = 0; j < e->nproviders; j++)
            bay_array_push(prov, bay_str(e->providers[j]->owner_name));
        bay_map_set(ev, "providers", prov);
        bay_map_set(ev, "provider_contexts", provider_contexts(e));
        bay_map_set(ev, "calls", bay_int((int64_t)e->calls));
        bay_map_set(ev, "unserved", bay_int((int64_t)e->unserved));
        bay_array_push(eps, ev);
    }
    bay_map_set(v, "broker", br);
    bay_map_set(v, "plugins", plugins);
    bay_map_set(v, "extension_points", eps);
    return v;
}

/* not_saved reports a change to p the state folder did not take (what: what
 * that means, "not installed") with the state's reason e, to the caller in
 * err and in the log. Returns e's code. */
static int not_saved(const plugin *p, const char *what, const bay_error *e, bay_error *err)
{
    bay_error_set(err, e->code, p->id, "%s: %s", what, e->message);
    bay__log(BAY_LOG_ERROR, p->id, "%s: %s", what, e->message);
    return e->code;
}

/* unload_for unloads p for uninstall or disable. The unload, which may
 * refuse, first ends as `plugbay unload` would; only once the state took the
 * change does it end available or disabled. So a save that fails leaves p
 * installed and enabled, as the state says, only unloaded. */
static int unload_for(broker *b, plugin *p, bool disable, bay_error *err)
{
    if (p->life.state == PS_AVAILABLE)
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is not installed", p->id);
    plugin_state back = p->life.state == PS_DISABLED ? PS_DISABLED : PS_STOPPED;
    int rc = lifecycle_unload(b, p, false, disable ? back : PS_AVAILABLE, err); /* available: on_uninstall runs */
    if (rc)
        return rc;
    bay_error e;
    rc = disable ? bay__state_set_enabled(b->state, p->id, false, &e) : bay__state_forget(b->state, p->id, &e);
    if (rc) {
        lifecycle_unload(b, p, false, back, err);
        return not_saved(p, disable ? "not disabled (unloaded, still enabled)" : "not uninstalled (unloaded, still installed)",
                         &e, err);
    }
    if (disable)
        return lifecycle_unload(b, p, false, PS_DISABLED, err);
    if (p->life.state == PS_AVAILABLE && bay__state_remove_data(b->state, p->id, &e) != 0) /* else once at rest */
        return not_saved(p, "uninstalled, but its data folder stays", &e, err);
    return 0;
}

/* choose picks what the command's "grant" and "grant_all" give p (permission_choose) among what manifest m asks. */
static int choose(const plugin *p, const bay__manifest *m, const bay_value *args, char ***out, bay_error *err)
{
    if (m == NULL)
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s has an invalid manifest: %s", p->id, p->life.reason);
    return permission_choose(p->id, m, bay_map_get(args, "grant"), bay_value_bool(bay_map_get(args, "grant_all")),
                             out, err);
}

/* ---- the commands: each fills *out (answered at once) or leaves the answer
 * to the plugin settling (table below) ---------------------------------- */

static int cmd_list(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p, (void)err;
    *out = bay_array();
    for (size_t i = 0; i < b->nplugins; i++)
        bay_array_push(*out, summary(b, b->plugins[i], locale_of(args)));
    return 0;
}

static int cmd_status(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p, (void)err;
    *out = status(b, locale_of(args));
    return 0;
}

static int cmd_info(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)err;
    *out = info(b, p, locale_of(args));
    return 0;
}

static int cmd_install(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)out;
    if (p->life.state == PS_INVALID && bay__state_find(b->state, p->id) == NULL) /* never installed: say why not */
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s cannot be installed: %s", p->id, p->life.reason);
    if (p->life.state != PS_AVAILABLE)
        return bay_error_set(err, BAY_EEXIST, p->id, "%s is already installed (%s)", p->id,
                             plugin_state_name(p->life.state));
    if (p->m == NULL)
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s cannot be installed: %s", p->id, p->life.reason);
    char **granted = NULL;
    int rc = lifecycle_signature(b, p->id, p->m->dir, err);
    if (rc == 0)
        rc = choose(p, p->m, args, &granted, err);
    if (rc == 0)
        rc = bay__inspect(p->m, granted, err);
    if (rc) {
        bay__strv_free(granted);
        return rc;
    }
    bay_error e;
    rc = bay__state_install(b->state, p->id, (const char *const *)granted, NULL, &e);
    bay__strv_free(granted);
    return rc ? not_saved(p, "not installed", &e, err) : lifecycle_load_fresh(b, p, err);
}

/* cmd_package_put takes one part of a package an admin sends (incoming.h). */
static int cmd_package_put(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p;
    return incoming_put(b, args, out, err);
}

int command_install_placed(broker *b, plugin *p, const bay_value *args, bay_error *err)
{
    bool installed = p->life.state != PS_AVAILABLE; /* by the scan, under --autoinstall */
    int rc = installed ? 0 : cmd_install(b, p, args, NULL, err);
    if (rc)
        incoming_withdraw(b, p);
    else
        incoming_installed(b, p);
    return rc;
}

/* cmd_install_package places the package received whole (incoming.h) in the
 * plugins folder and installs its plugin (command_install_placed). Answers
 * (once settled) about the plugin it installed. */
static int cmd_install_package(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    int rc = incoming_place(b, args, &p, err);
    if (rc == 0 && (rc = command_install_placed(b, p, args, err)) == 0)
        *out = bay_str(p->id);
    return rc;
}

/* cmd_update_package swaps in the version of an installed plugin in the
 * package received whole (update.h) and reloads it; answers (once settled)
 * about that plugin. */
static int cmd_update_package(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    int rc = update_place(b, args, &p, err);
    if (rc == 0 && (rc = update_reload(b, p, err)) == 0)
        *out = bay_str(p->id);
    return rc;
}

/* cmd_rollback swaps in the version p ran before (update.h) and reloads it. */
static int cmd_rollback(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    int rc = update_rollback(b, p, err);
    return rc ? rc : update_reload(b, p, err);
}

static int cmd_uninstall(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    int rc = unload_for(b, p, false, err);
    if (rc == 0)
        update_forget(b, p->id); /* the versions an update kept go with it */
    return rc;
}

static int cmd_disable(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    return unload_for(b, p, true, err);
}

/* not_installed refuses a command on p, which is not installed, saying how to install it. */
static int not_installed(const plugin *p, bay_error *err)
{
    return bay_error_set(err, BAY_ESTATE, p->id,
                         "%s is not installed; run `plugbay install %s --grant-all` (or --grant PERM for each "
                         "permission you grant)",
                         p->id, p->id);
}

static int cmd_enable(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    if (p->life.state == PS_AVAILABLE)
        return not_installed(p, err);
    int rc = lifecycle_renew(b, p, true, err);
    if (rc)
        return rc;
    bay_error e;
    rc = bay__state_set_failed(b->state, p->id, NULL, &e);
    if (rc == 0)
        rc = bay__state_set_enabled(b->state, p->id, true, &e);
    if (rc)
        return not_saved(p, "not enabled", &e, err);
    if (p->life.state == PS_DISABLED || p->life.state == PS_FAILED || p->life.state == PS_STOPPED)
        return lifecycle_load_fresh(b, p, err);
    return 0;
}

/* cmd_grant adds permissions to an installed plugin, among those its
 * plugin.json asks for now; calls see them at once, provides at its next load. */
static int cmd_grant(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    if (sp == NULL)
        return not_installed(p, err);
    char **chosen;
    bay__manifest *now = NULL; /* what plugin.json asks for now (a reload waits on it), else what p runs with */
    bay__manifest_load(b->opt.plugins_dir, p->id, &now, NULL);
    int rc = choose(p, now ? now : p->m, args, &chosen, err);
    bay__manifest_free(now);
    if (rc)
        return rc;
    bay_error e;
    rc = bay__state_add_granted(b->state, p->id, (const char *const *)chosen, &e);
    bay__strv_free(chosen);
    if (rc)
        return not_saved(p, "not granted", &e, err);
    *out = bay_map();
    bay_map_set(*out, "id", bay_str(p->id));
    bay_map_set(*out, "state", bay_str(plugin_state_name(p->life.state)));
    bay_map_set(*out, "granted", list_value(bay__state_find(b->state, p->id)->granted));
    return 0;
}

static int cmd_load(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    int rc = lifecycle_renew(b, p, false, err);
    return rc ? rc : lifecycle_load(b, p, err);
}

static int cmd_unload(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    return lifecycle_unload(b, p, false, PS_STOPPED, err);
}

static int cmd_reload(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)args, (void)out;
    return lifecycle_reload(b, p, err);
}

/* cmd_order sets p's place in load order ({"order": N}) or gives it back to
 * its manifest ({"clear": true}), keeps it in the state folder and moves its
 * providers at once; answers p's place and where it comes from. */
static int cmd_order(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    const bay_value *order = bay_map_get(args, "order");
    bool clear = bay_value_bool(bay_map_get(args, "clear"));
    if ((order == NULL) == !clear || (order && bay_value_type(order) != BAY_INT))
        return bay_error_set(err, BAY_EINVAL, p->id, "command \"order\" needs {\"id\": ID, \"order\": N} or "
                             "{\"id\": ID, \"clear\": true}");
    if (bay__state_find(b->state, p->id) == NULL)
        return not_installed(p, err);
    int64_t n = bay_value_int(order);
    bay_error e;
    int rc = bay__state_set_order(b->state, p->id, order ? &n : NULL, &e);
    if (rc == BAY_EINVAL)
        return bay_error_set(err, rc, p->id, "%s", e.message);
    if (rc)
        return not_saved(p, "order not changed", &e, err);
    lifecycle_reorder(b);
    bool by_operator;
    *out = bay_map();
    bay_map_set(*out, "id", bay_str(p->id));
    bay_map_set(*out, "order", bay_int(lifecycle_order(b, p, &by_operator)));
    bay_map_set(*out, "order_by", bay_str(by_operator ? "operator" : "manifest"));
    char after[300];
    bay_map_set(*out, "order_note", bay_str(order_note(b, p, after, sizeof after)));
    return 0;
}

/* cmd_rescan looks at the plugins folder again and answers what changed (lifecycle_rescan). */
static int cmd_rescan(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p, (void)args;
    *out = bay_map();
    return lifecycle_rescan(b, *out, err);
}

/* ---- the hosts an admin lets in (host.add, host.list, host.remove) ------- */

static bay_value *host_value(const bay__state_host *h)
{
    bay_value *v = bay_map();
    bay_map_set(v, "name", bay_str(h->name));
    bay_map_set(v, "uid", h->keyed ? bay_nil() : bay_int(h->uid));
    bay_map_set(v, "key_id", h->keyed ? bay_str(h->key_id) : bay_nil());
    bay_map_set(v, "role", bay_str(bay__role_name(h->role)));
    bay_map_set(v, "granted", list_value(h->granted));
    return v;
}

static int cmd_host_list(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p, (void)args, (void)err;
    *out = bay_array();
    for (size_t i = 0; i < bay__state_host_count(b->state); i++)
        bay_array_push(*out, host_value(bay__state_host_at(b->state, i)));
    return 0;
}

/* host_grants reads args' "grant" (an array of call:PATTERN and provide:PATTERN) into *out (NULL-terminated, borrowed strings). */
static int host_grants(const bay_value *args, const char ***out, bay_error *err)
{
    const bay_value *g = bay_map_get(args, "grant");
    size_t n = g ? bay_value_len(g) : 0;
    if (g && bay_value_type(g) != BAY_ARRAY)
        return bay_error_set(err, BAY_EINVAL, NULL, "\"grant\" must be an array of call:PATTERN and provide:PATTERN");
    if ((*out = calloc(n + 1, sizeof **out)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *perm = bay_value_str(bay_array_get(g, i), NULL);
        if (perm == NULL || (strncmp(perm, "call:", 5) != 0 && strncmp(perm, "provide:", 8) != 0) ||
            strchr(perm, ':')[1] == '\0') {
            free(*out);
            return bay_error_set(err, BAY_EINVAL, NULL, "a host's grant is call:PATTERN or provide:PATTERN, not \"%s\"",
                                 perm ? perm : "(not a string)");
        }
        (*out)[i] = perm;
    }
    return 0;
}

/* host_who reads whom host.add lets in: args' "uid" (a local user) or "key" (the base64 of an Ed25519 public
 * key, *keyed then true), exactly one of them. */
static int host_who(const bay_value *args, int64_t *uid, unsigned char key[BAY_KEY_PUBLIC_BYTES], bool *keyed,
                    bay_error *err)
{
    const bay_value *uidv = bay_map_get(args, "uid"), *keyv = bay_map_get(args, "key");
    size_t len = 0;
    const char *b64 = bay_value_str(keyv, &len);
    *uid = bay_value_int(uidv);
    *keyed = keyv != NULL;
    if ((uidv == NULL) == (keyv == NULL) || (uidv && (bay_value_type(uidv) != BAY_INT || *uid < 0 || *uid > UINT32_MAX)))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "command \"host.add\" needs {\"name\": NAME, \"uid\": UID or \"key\": BASE64, \"role\": "
                             "ROLE, \"grant\": [PERM...]}, a uid or a key but not both");
    if (keyv && (b64 == NULL || !bay__key_base64_exact(b64, len, key, BAY_KEY_PUBLIC_BYTES)))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "\"key\" must be the base64 of an Ed25519 public key, as in the .pub file plugbay keygen "
                             "writes (`plugbay host add NAME --key FILE.pub --role observer` reads it for you)");
    if (uidv && bay__role_of_uid((uint32_t)*uid, (uint32_t)geteuid(), BAY_ROLE_NONE) == BAY_ROLE_ADMIN)
        return bay_error_set(err, BAY_EINVAL, NULL, "uid %lld is plugbayd's own user or root, an admin always",
                             (long long)*uid);
    return 0;
}

static int cmd_host_add(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p;
    const char *name = bay_value_str(bay_map_get(args, "name"), NULL), *role = bay_value_str(bay_map_get(args, "role"), NULL);
    int64_t uid;
    unsigned char key[BAY_KEY_PUBLIC_BYTES];
    bool keyed;
    if (name == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "command \"host.add\" needs {\"name\": NAME, \"uid\": UID or \"key\": BASE64, \"role\": "
                             "ROLE, \"grant\": [PERM...]}");
    int rc = host_who(args, &uid, key, &keyed, err);
    if (rc)
        return rc;
    bay__role r = bay__role_parse(role);
    if (r == BAY_ROLE_NONE)
        return bay_error_set(err, BAY_EINVAL, NULL, "role \"%s\" is none of observer, host, admin", role ? role : "");
    const char **grants = NULL;
    if ((rc = host_grants(args, &grants, err)) != 0)
        return rc;
    if (grants[0] && r != BAY_ROLE_HOST)
        rc = bay_error_set(err, BAY_EINVAL, NULL, "only a host is limited by grants; an %s is not", bay__role_name(r));
    if (rc == 0)
        rc = keyed ? bay__state_host_add_key(b->state, name, key, r, grants, err)
                   : bay__state_host_add(b->state, name, (uint32_t)uid, r, grants, err);
    free(grants);
    if (rc == 0)
        *out = host_value(bay__state_host_named(b->state, name));
    return rc;
}

/* cmd_host_remove forgets a host and lets go of its user's connections, or of those that proved its key. */
static int cmd_host_remove(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p, (void)out;
    const char *name = bay_value_str(bay_map_get(args, "name"), NULL);
    const bay__state_host *h = name ? bay__state_host_named(b->state, name) : NULL;
    int64_t uid = h && !h->keyed ? (int64_t)h->uid : -1;
    unsigned char key[BAY_KEY_PUBLIC_BYTES];
    bool keyed = h && h->keyed;
    if (keyed)
        memcpy(key, h->key, sizeof key);
    int rc = name ? bay__state_host_remove(b->state, name, err)
                  : bay_error_set(err, BAY_EINVAL, NULL, "command \"host.remove\" needs {\"name\": NAME}");
    size_t n = 0;
    conn **all = rc == 0 ? conn_snapshot(b, &n) : NULL;
    char why[128];
    snprintf(why, sizeof why, "host %s was removed by an admin", name ? name : "");
    for (size_t i = 0; i < n; i++)
        if (all[i]->role == ROLE_HOST && (keyed ? all[i]->keyed && memcmp(all[i]->key, key, sizeof key) == 0
                                                : uid >= 0 && all[i]->uid == uid))
            conn_let_go(b, all[i], 0, BAY_EPERM, why);
    free(all);
    return rc;
}

int command_init(broker *b, bay_error *err)
{
    if (logs_init(b) != 0)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    return incoming_init(b, err);
}

void command_free(broker *b)
{
    logs_free(b);
}

/* One command. need: the role a host must have to run it; on_plugin: it
 * takes {"id": PLUGIN-ID}; settles: its answer waits until the plugin
 * settles (loaded, stopped, failed, ...), else run's *out (or nil) is the
 * answer; a settling command without on_plugin makes its plugin, and its run
 * writes that plugin's id to *out; relay, instead of run, sends the request on
 * (a call), whose answer answers it later. Every command that needs an admin
 * leaves an audit line. */
typedef struct command {
    const char *name;
    bay__role need;
    bool on_plugin, settles;
    int (*run)(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);
    bool (*changes)(const bay_value *args); /* NULL, or: these args change something, so an admin must ask */
    int (*relay)(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err);
} command;

static const command commands[] = {
    {"list", BAY_ROLE_OBSERVER, false, false, cmd_list, NULL, NULL},
    {"info", BAY_ROLE_OBSERVER, true, false, cmd_info, NULL, NULL},
    {"install", BAY_ROLE_ADMIN, true, true, cmd_install, NULL, NULL},
    {"package.put", BAY_ROLE_ADMIN, false, false, cmd_package_put, NULL, NULL},
    {"install.package", BAY_ROLE_ADMIN, false, true, cmd_install_package, NULL, NULL},
    {"update.package", BAY_ROLE_ADMIN, false, true, cmd_update_package, NULL, NULL},
    {"rollback", BAY_ROLE_ADMIN, true, true, cmd_rollback, NULL, NULL},
    {"uninstall", BAY_ROLE_ADMIN, true, true, cmd_uninstall, NULL, NULL},
    {"enable", BAY_ROLE_ADMIN, true, true, cmd_enable, NULL, NULL},
    {"disable", BAY_ROLE_ADMIN, true, true, cmd_disable, NULL, NULL},
    {"grant", BAY_ROLE_ADMIN, true, false, cmd_grant, NULL, NULL},
    {"load", BAY_ROLE_ADMIN, true, true, cmd_load, NULL, NULL},
    {"unload", BAY_ROLE_ADMIN, true, true, cmd_unload, NULL, NULL},
    {"reload", BAY_ROLE_ADMIN, true, true, cmd_reload, NULL, NULL},
    {"status", BAY_ROLE_OBSERVER, false, false, cmd_status, NULL, NULL},
    {"declare", BAY_ROLE_HOST, false, false, NULL, NULL, provide_declare_typed},
    {"host.add", BAY_ROLE_ADMIN, false, false, cmd_host_add, NULL, NULL},
    {"host.list", BAY_ROLE_OBSERVER, false, false, cmd_host_list, NULL, NULL},
    {"host.remove", BAY_ROLE_ADMIN, false, false, cmd_host_remove, NULL, NULL},
    {"audit", BAY_ROLE_ADMIN, false, false, logs_audit, NULL, NULL},
    {"logs", BAY_ROLE_OBSERVER, true, false, logs_plugin, NULL, NULL},
    {"order", BAY_ROLE_ADMIN, true, false, cmd_order, NULL, NULL},
    {"rescan", BAY_ROLE_ADMIN, false, false, cmd_rescan, NULL, NULL},
    {"config", BAY_ROLE_OBSERVER, true, false, config_command, config_changes, NULL},
    {"stats", BAY_ROLE_OBSERVER, true, false, metrics_stats, NULL, NULL},
    {"metrics", BAY_ROLE_OBSERVER, false, false, metrics_where, NULL, NULL},
    {"panels", BAY_ROLE_OBSERVER, false, false, panel_list, NULL, NULL},
    {"messages", BAY_ROLE_OBSERVER, true, false, panel_messages, NULL, NULL},
    {"panel.call", BAY_ROLE_HOST, true, false, NULL, NULL, panel_call},
    {"index.list", BAY_ROLE_OBSERVER, false, false, offer_list, NULL, NULL},
    {"install.index", BAY_ROLE_ADMIN, false, false, NULL, NULL, offer_install},
    {"console", BAY_ROLE_OBSERVER, false, false, NULL, NULL, console_command},
};

/* find_command returns the command named name, or NULL with err listing them. */
static const command *find_command(const char *name, bay_error *err)
{
    char names[sizeof err->message] = "";
    size_t used = 0, n = sizeof commands / sizeof *commands;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
        if (used < sizeof names) /* a list cut short stays inside names */
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", commands[i].name);
    }
    bay_error_set(err, BAY_ENOENT, NULL, "unknown command \"%s\" (commands: %s)", name, names);
    return NULL;
}

/* hidden returns a copy of the settings given in map, each value a secret
 * or a key the plugin does not declare (decls: its manifest's "settings";
 * NULL: none) replaced by "(not shown)". */
static bay_value *hidden(const bay_value *map, const json_t *decls)
{
    bay_value *v = bay_map();
    const bay_value *val;
    const char *key;
    for (size_t i = 0; v && (key = bay_map_entry(map, i, &val)) != NULL; i++) {
        const json_t *decl = decls ? json_object_get(decls, key) : NULL;
        bay_map_set(v, key, decl && !bay__setting_secret(decl) ? bay_value_copy(val) : bay_str("(not shown)"));
    }
    return v;
}

/* shown returns a copy of args for the audit line, each binary value (a
 * package's part) replaced by its length: "524288 bytes", and the values of
 * settings given as hidden has them. */
static bay_value *shown(const bay_value *args, const json_t *decls)
{
    bay_value *v = bay_map();
    const bay_value *val;
    const char *key;
    char len[32];
    for (size_t i = 0; v && (key = bay_map_entry(args, i, &val)) != NULL; i++) {
        size_t n = 0;
        if (bay_value_type(val) == BAY_BIN)
            snprintf(len, sizeof len, "%zu bytes", (bay_value_str(val, &n), n));
        bool settings = (strcmp(key, "set") == 0 || strcmp(key, "set_text") == 0) && bay_value_type(val) == BAY_MAP;
        bay_map_set(v, key,
                    settings ? hidden(val, decls) : bay_value_type(val) == BAY_BIN ? bay_str(len) : bay_value_copy(val));
    }
    return v;
}

/* audit logs what host c asked of an admin command and how it ended. */
static void audit(broker *b, conn *c, const bay__frame *f, const bay_value *args, int rc, const bay_error *err)
{
    char *json = NULL;
    const char *id = bay_value_str(bay_map_get(args, "id"), NULL);
    const plugin *p = id ? broker_plugin(b, id) : NULL;
    bay_value *v = args ? shown(args, p && p->m ? p->m->settings : NULL) : NULL;
    if (v)
        bay_value_to_json(v, &json);
    bay_value_free(v);
    bay__log(BAY_LOG_INFO, "audit", "%s: %s %s: %s%s%s", conn_who(c), f->name, json ? json : "{}",
             rc ? bay_errname(rc) : "done", rc ? ": " : "", rc ? err->message : "");
    free(json);
}

/* take_command runs cmd, which c may run. */
static int take_command(broker *b, conn *c, const bay__frame *f, const command *cmd, const bay_value *args,
                        bay_error *err)
{
    plugin *p = NULL;
    if (cmd->on_plugin) {
        const char *id = bay_value_str(bay_map_get(args, "id"), NULL);
        if (id == NULL)
            return bay_error_set(err, BAY_EINVAL, NULL, "command \"%s\" needs {\"id\": PLUGIN-ID}", f->name);
        if ((p = broker_plugin(b, id)) == NULL)
            return bay_error_set(err, BAY_ENOENT, NULL, "no plugin \"%s\" in %s (see `plugbay list`)", id,
                                 b->opt.plugins_dir);
    }
    bay_value *out = NULL;
    int rc = cmd->relay ? cmd->relay(b, c, f, p, args, err) : cmd->run(b, p, args, &out, err);
    if (rc && p) /* an error about the plugin the command names is that plugin's */
        snprintf(err->plugin, sizeof err->plugin, "%s", p->id);
    if (rc == 0 && !cmd->settles && !cmd->relay)
        conn_send_value(b, c, f->id, out);
    if (rc == 0 && cmd->settles && p == NULL) /* a command that made its plugin answers its id */
        p = broker_plugin(b, bay_value_str(out, NULL));
    bay_value_free(out);
    if (rc == 0 && cmd->settles && p)
        command_answer_settled(b, p, c->session, f->id);
    return rc;
}

void command_answer_settled(broker *b, plugin *p, uint64_t session, uint64_t id)
{
    lifecycle_add_waiter(p, session, id);
    if (lifecycle_settled(p))
        lifecycle_settle(b, p);
}

/* run runs COMMAND f with its arguments args: 0 when it was answered or will
 * be once its plugin settles, else the code with err. */
static int run(broker *b, conn *c, const bay__frame *f, const bay_value *args, bay_error *err)
{
    const command *cmd = find_command(f->name, err);
    if (cmd == NULL)
        return err->code;
    bay__role need = cmd->changes && cmd->changes(args) ? BAY_ROLE_ADMIN : cmd->need;
    int rc = bay__role_allows(c->rights, need)
                 ? take_command(b, c, f, cmd, args, err)
                 : bay_error_set(err, BAY_EPERM, NULL, "%s may not run %s%s: it needs role %s", conn_who(c), cmd->name,
                                 need != cmd->need ? " with changes" : "", bay__role_name(need));
    if (need == BAY_ROLE_ADMIN)
        audit(b, c, f, args, rc, err);
    return rc;
}

void command_handle(broker *b, conn *c, const bay__frame *f)
{
    if (strcmp(f->name, "channel") == 0) {
        fastpath_request(b, c, f);
        return;
    }
    bay_value *args = NULL;
    bay_error err;
    int rc = f->value ? bay__value_from_object(f->value, &args, &err) : 0;
    if (rc == 0)
        rc = run(b, c, f, args, &err);
    if (rc)
        conn_send_error(b, c, f->id, rc, err.plugin[0] ? err.plugin : NULL, "%s", err.message);
    bay_value_free(args);
}
