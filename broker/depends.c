/* broker/depends.c — dependencies between plugins: load order, cycles, readiness, who is in use. */
#include "broker.h"
#include "depends.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* host_check returns BAY_EVERSION (with err) when p, with manifest m, does not work with this plugbay. */
static int host_check(broker *b, const plugin *p, const bay__manifest *m, bay_error *err)
{
    bay__semver v;
    if (m == NULL || m->host == NULL || bay__semver_parse(b->version, &v) != 0 || bay__semver_satisfies(&v, m->host))
        return 0;
    return bay_error_set(err, BAY_EVERSION, p->id, "%s works with plugbay %s, but this is plugbay %s", p->id, m->host,
                         b->version);
}

int depends_host_check(broker *b, plugin *p, bay_error *err)
{
    return host_check(b, p, p->m, err);
}

/* dep_problem explains why dependency d of p cannot be satisfied, or returns 0
 * (ready) or BAY_EPENDING (on its way: *starting tells whether to load it). */
static int dep_problem(broker *b, plugin *p, const bay__dep_decl *d, plugin **need_load, bay_error *err)
{
    plugin *dp = broker_plugin(b, d->id);
    *need_load = NULL;
    if (dp == NULL) {
        return bay_error_set(err, BAY_ENOENT, p->id, "%s needs %s (%s), which is not in %s", p->id, d->id, d->range,
                             b->opt.plugins_dir);
    }
    if (dp->m == NULL) {
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s needs %s (%s), whose manifest is invalid: %s", p->id, d->id,
                             d->range, dp->life.reason);
    }
    if (!bay__semver_satisfies(&dp->m->ver, d->range)) {
        return bay_error_set(err, BAY_EVERSION, p->id, "%s needs %s %s, but %s is version %s", p->id, d->id, d->range,
                             d->id, dp->m->version);
    }
    switch (transition_dependency(dp->life.state, dp->life.restart_at_ms || dp->proc.pid)) {
    case DEP_READY:
        return 0;
    case DEP_PENDING:
        return BAY_EPENDING;
    case DEP_LOAD_FIRST:
        *need_load = dp;
        return BAY_EPENDING;
    case DEP_UNAVAILABLE:
        break;
    }
    return bay_error_set(err, BAY_EUNAVAIL, p->id, "%s needs %s, which is %s%s%s", p->id, d->id,
                         plugin_state_name(dp->life.state), dp->life.reason[0] ? ": " : "", dp->life.reason);
}

int depends_ready(broker *b, plugin *p, const bay__manifest *m, void (*load_first)(broker *b, plugin *dep),
                  bay_error *err)
{
    int rc = host_check(b, p, m, err);
    bool pending = false;
    for (size_t i = 0; rc == 0 && m && i < m->ndeps; i++) {
        plugin *load = NULL;
        rc = dep_problem(b, p, &m->deps[i], &load, err);
        if (rc == BAY_EPENDING) {
            pending = true;
            rc = 0;
            bay_error_set(err, BAY_EPENDING, p->id, "waiting for %s to load", m->deps[i].id);
            if (load)
                load_first(b, load);
        }
    }
    return rc ? rc : pending ? BAY_EPENDING : 0;
}

size_t depends_users(broker *b, const plugin *p, char *out, size_t len)
{
    size_t count = 0, n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *u = b->plugins[i];
        if (!transition_in_use(u->life.state))
            continue;
        for (size_t j = 0; u->m && j < u->m->ndeps; j++)
            if (strcmp(u->m->deps[j].id, p->id) == 0) {
                if (n < len)
                    n += (size_t)snprintf(out + n, len - n, "%s%s", count ? ", " : "", u->id);
                count++;
                break;
            }
    }
    return count;
}
