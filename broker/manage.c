/* broker/manage.c — what a plugin asks of plugbayd itself: its own timers, and other plugins (plugins.manage). */
#include "manage.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "lifecycle.h"
#include "log.h"
#include "permission.h"
#include "timer.h"
#include "value_convert.h"

/* may_manage tells whether plugin p was granted plugins.manage over plugin id. */
static bool may_manage(broker *b, const plugin *p, const char *id)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    char *const *granted = sp ? sp->granted : NULL;
    return bay__strv_has((const char *const *)granted, "plugins.manage") ||
           permission_granted(granted, "plugins.manage", id);
}

/* state_of answers plugin q as a plugin sees it: {id, version, state, reason}. */
static bay_value *state_of(const plugin *q)
{
    bay_value *v = bay_map();
    bay_map_set(v, "id", bay_str(q->id));
    bay_map_set(v, "version", q->m ? bay_str(q->m->version) : bay_nil());
    bay_map_set(v, "state", bay_str(plugin_state_name(q->life.state)));
    bay_map_set(v, "reason", bay_str(q->life.reason));
    return v;
}

/* timer answers timer.set, timer.remove and timer.list of plugin p. */
static int timer(broker *b, plugin *p, const char *what, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)b;
    int64_t now = bay__now_ms();
    const char *name = bay_value_str(bay_map_get(args, "name"), NULL);
    if (strcmp(what, "timer.list") == 0) {
        *out = timers_list(p, now);
        return 0;
    }
    if (name == NULL)
        return bay_error_set(err, BAY_EINVAL, p->id, "COMMAND %s needs {\"name\": TIMER-NAME, ...}", what);
    if (strcmp(what, "timer.remove") == 0)
        return timers_remove(p, name, err);
    const bay_value *interval = bay_map_get(args, "interval_ms");
    const char *function = bay_value_str(bay_map_get(args, "function"), NULL);
    if (bay_value_type(interval) != BAY_INT || function == NULL)
        return bay_error_set(err, BAY_EINVAL, p->id, "COMMAND timer.set needs {\"name\", \"interval_ms\": integer, "
                             "\"function\"}");
    if (p->life.state != PS_LOADED)
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is %s: its timers are set while it serves (in on_load or a "
                             "call)", p->id, plugin_state_name(p->life.state));
    return timers_set(p, name, bay_value_int(interval), function, now, err);
}

/* plugins answers plugins.* asked by plugin p. */
static int plugins(broker *b, plugin *p, const char *what, const bay_value *args, bay_value **out, bay_error *err)
{
    if (strcmp(what, "plugins.list") == 0) {
        *out = bay_array();
        for (size_t i = 0; i < b->nplugins; i++)
            if (b->plugins[i] == p || may_manage(b, p, b->plugins[i]->id))
                bay_array_push(*out, state_of(b->plugins[i]));
        return 0;
    }
    const char *id = bay_value_str(bay_map_get(args, "id"), NULL);
    plugin *q = id ? broker_plugin(b, id) : NULL;
    if (id == NULL)
        return bay_error_set(err, BAY_EINVAL, p->id, "COMMAND %s needs {\"id\": PLUGIN-ID}", what);
    if (q != p && !may_manage(b, p, id))
        return bay_error_set(err, BAY_EPERM, p->id, "%s may not %s %s: it was not granted plugins.manage:%s (or "
                             "plugins.manage)", p->id, what + strlen("plugins."), id, id);
    if (q == NULL)
        return bay_error_set(err, BAY_ENOENT, p->id, "no plugin \"%s\"", id);
    int rc;
    if (strcmp(what, "plugins.load") == 0)
        rc = (rc = lifecycle_renew(b, q, false, err)) ? rc : lifecycle_load(b, q, err);
    else if (strcmp(what, "plugins.unload") == 0)
        rc = lifecycle_unload(b, q, false, PS_STOPPED, err);
    else
        rc = lifecycle_reload(b, q, err);
    if (rc == 0)
        *out = state_of(q);
    return rc;
}

bool manage_command(broker *b, conn *c, const bay__frame *f)
{
    bool timers = strncmp(f->name, "timer.", 6) == 0, others = strncmp(f->name, "plugins.", 8) == 0;
    static const char *const names[] = {"timer.set", "timer.remove", "timer.list", "plugins.list", "plugins.load",
                                        "plugins.unload", "plugins.reload", NULL};
    plugin *p = c->plugin;
    if (p == NULL || !bay__strv_has(names, f->name))
        return false;
    bay_value *args = NULL, *out = NULL;
    bay_error err;
    int rc = c != p->worker ? bay_error_set(&err, BAY_ESTATE, p->id, "%s: this worker is being replaced by a reload: "
                                            "only the serving one sets timers or manages plugins", p->id)
             : f->value     ? bay__value_from_object(f->value, &args, &err)
                            : 0;
    if (rc == 0)
        rc = timers ? timer(b, p, f->name, args, &out, &err) : plugins(b, p, f->name, args, &out, &err);
    if (others && strcmp(f->name, "plugins.list") != 0)
        bay__log(BAY_LOG_INFO, "audit", "plugin:%s: %s %s: %s%s%s", p->id, f->name,
                 bay_value_str(bay_map_get(args, "id"), NULL) ? bay_value_str(bay_map_get(args, "id"), NULL) : "?",
                 rc ? bay_errname(rc) : "done", rc ? ": " : "", rc ? err.message : "");
    if (rc)
        conn_send_error(b, c, f->id, rc, err.plugin[0] ? err.plugin : p->id, "%s", err.message);
    else
        conn_send_value(b, c, f->id, out);
    bay_value_free(args);
    bay_value_free(out);
    return true;
}
