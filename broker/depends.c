/* broker/depends.c — dependencies between plugins: load order, cycles, readiness, who is in use. */
#include "broker.h"
#include "depends.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int depends_host_check(broker *b, plugin *p, char *err, size_t errlen)
{
    bay__semver v;
    if (p->m == NULL || p->m->host == NULL || bay__semver_parse(b->version, &v) != 0 ||
        bay__semver_satisfies(&v, p->m->host))
        return 0;
    snprintf(err, errlen, "%s works with plugbay %s, but this is plugbay %s", p->id, p->m->host, b->version);
    return BAY_EVERSION;
}

/* dep_problem explains why dependency d of p cannot be satisfied, or returns 0
 * (ready) or BAY_EPENDING (on its way: *starting tells whether to load it). */
static int dep_problem(broker *b, plugin *p, const bay__dep_decl *d, plugin **need_load, char *err, size_t errlen)
{
    plugin *dp = broker_plugin(b, d->id);
    *need_load = NULL;
    if (dp == NULL) {
        snprintf(err, errlen, "%s needs %s (%s), which is not in %s", p->id, d->id, d->range, b->opt.plugins_dir);
        return BAY_ENOENT;
    }
    if (dp->m == NULL) {
        snprintf(err, errlen, "%s needs %s (%s), whose manifest is invalid: %s", p->id, d->id, d->range, dp->life.reason);
        return BAY_EMANIFEST;
    }
    if (!bay__semver_satisfies(&dp->m->ver, d->range)) {
        snprintf(err, errlen, "%s needs %s %s, but %s is version %s", p->id, d->id, d->range, d->id, dp->m->version);
        return BAY_EVERSION;
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
    snprintf(err, errlen, "%s needs %s, which is %s%s%s", p->id, d->id, plugin_state_name(dp->life.state),
             dp->life.reason[0] ? ": " : "", dp->life.reason);
    return BAY_EUNAVAIL;
}

int depends_ready(broker *b, plugin *p, void (*load_first)(broker *b, plugin *dep), char *err, size_t errlen)
{
    int rc = depends_host_check(b, p, err, errlen);
    bool pending = false;
    for (size_t i = 0; rc == 0 && p->m && i < p->m->ndeps; i++) {
        plugin *load = NULL;
        rc = dep_problem(b, p, &p->m->deps[i], &load, err, errlen);
        if (rc == BAY_EPENDING) {
            pending = true;
            rc = 0;
            snprintf(err, errlen, "waiting for %s to load", p->m->deps[i].id);
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
