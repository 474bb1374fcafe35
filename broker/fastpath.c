/* broker/fastpath.c — fast channels: granting hosts a shared-memory channel to a worker, and revoking it. */
#include "conn.h"
#include "fastpath.h"
#include "supervise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ring.h"
#include "value_convert.h"

/* A host request waiting for the worker's answer to channel.open. */
typedef struct ask {
    struct ask *next;
    uint64_t id;
    size_t events;     /* for an event's channel: how many providers the event has; 0 for a handle's */
} ask;

/* One channel: a host and a plugin's worker. */
typedef struct grant {
    struct grant *next;
    uint64_t session;  /* the host */
    plugin *p;
    conn *worker;      /* the worker connection that admitted the host */
    char token[33];
    uint64_t open_id;  /* the channel.open in flight; 0 once answered */
    char address[64];  /* the worker's, once answered */
    ask *asks;
} grant;

/* A name a host asked a channel for (granted or not): it hears when the name's providers change. */
typedef struct interest {
    struct interest *next;
    uint64_t session;
    char name[];
} interest;

/* A worker told to finish its fast calls (COMMAND channel.drain) that has not answered yet. */
typedef struct drain {
    struct drain *next;
    plugin *p;
    uint64_t worker;   /* the worker connection's session */
    uint64_t id;       /* the channel.drain in flight */
    size_t nhosts;
    uint64_t hosts[];  /* the hosts that held a channel: they hear why, should the worker die first */
} drain;

struct fastpath {
    grant *grants;
    interest *interests;
    drain *drains;
};

static struct fastpath *state(broker *b)
{
    if (b->fast == NULL)
        b->fast = calloc(1, sizeof *b->fast);
    return b->fast;
}

static void note_interest(broker *b, uint64_t session, const char *name)
{
    struct fastpath *fp = state(b);
    for (interest *i = fp ? fp->interests : NULL; i; i = i->next)
        if (i->session == session && strcmp(i->name, name) == 0)
            return;
    size_t n = strlen(name) + 1;
    interest *i = fp ? malloc(sizeof *i + n) : NULL;
    if (i == NULL)
        return;
    i->session = session;
    memcpy(i->name, name, n);
    i->next = fp->interests;
    fp->interests = i;
}

/* answer_grant answers request id with g; events, when not 0, is how many providers the event has. */
static void answer_grant(broker *b, const grant *g, uint64_t id, size_t events)
{
    conn *c = conn_get(b, g->session);
    if (c == NULL)
        return;
    bay_value *v = bay_map();
    bay_map_set(v, "plugin", bay_str(g->p->id));
    bay_map_set(v, "address", bay_str(g->address));
    bay_map_set(v, "token", bay_str(g->token));
    bay_map_set(v, "pid", bay_int(g->p->proc.pid));
    if (events)
        bay_map_set(v, "providers", bay_int((int64_t)events));
    conn_send_value(b, c, id, v);
    bay_value_free(v);
}

/* drop unlinks g, answers the requests still waiting on it with code and why, and frees it. */
static void drop(broker *b, grant *g, int code, const char *why)
{
    for (grant **gg = &b->fast->grants; *gg; gg = &(*gg)->next)
        if (*gg == g) {
            *gg = g->next;
            break;
        }
    conn *c = conn_get(b, g->session);
    for (ask *a = g->asks, *next; a; a = next) {
        next = a->next;
        if (c)
            conn_send_error(b, c, a->id, code, g->p->id, "%s", why);
        free(a);
    }
    free(g);
}

/* close_on_worker tells g's worker to close the channel (when that worker still runs). */
static void close_on_worker(broker *b, const grant *g)
{
    if (g->p->worker != g->worker || g->worker == NULL)
        return;
    bay_value *args = bay_map();
    bay_map_set(args, "token", bay_str(g->token));
    void *raw = NULL;
    size_t len = 0;
    if (bay_value_pack(args, &raw, &len) == 0) {
        bay__frame f = {.type = BAY_F_COMMAND, .name = "channel.close", .raw = raw, .raw_len = len};
        conn_send(b, g->worker, &f);
    }
    free(raw);
    bay_value_free(args);
}

static int new_token(char out[33])
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return BAY_EIO;
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
    return 0;
}

/* open_grant makes a grant for host c on p and asks p's worker to admit c. */
static grant *open_grant(broker *b, conn *c, plugin *p)
{
    grant *g = calloc(1, sizeof *g);
    if (g == NULL || new_token(g->token) != 0) {
        free(g);
        return NULL;
    }
    g->session = c->session;
    g->p = p;
    g->worker = p->worker;
    g->open_id = ++b->next_call;
    bay_value *args = bay_map();
    bay_map_set(args, "token", bay_str(g->token));
    bay_map_set(args, "pid", bay_int(c->pid));
    bay_map_set(args, "hang_grace_ms", bay_int(b->opt.hang_grace_ms));
    void *raw = NULL;
    size_t len = 0;
    int rc = bay_value_pack(args, &raw, &len);
    if (rc == 0) {
        bay__frame f = {.type = BAY_F_COMMAND, .id = g->open_id, .name = "channel.open", .raw = raw, .raw_len = len};
        rc = conn_send(b, p->worker, &f);
    }
    free(raw);
    bay_value_free(args);
    if (rc) {
        free(g);
        return NULL;
    }
    g->next = b->fast->grants;
    b->fast->grants = g;
    return g;
}

/* provider resolves the plugin on a worker of this machine that serves a
 * call of name in context: a handle's first provider, or an event's
 * provider number index (*events: how many the event has, all of them loaded
 * plugins, else the event goes through plugbayd). NULL with err otherwise:
 * a filter's chain always runs in plugbayd, and so do the calls whose values
 * plugbayd checks. */
static plugin *provider(broker *b, const char *name, const char *context, int64_t index, size_t *events,
                        bay_error *err)
{
    bay__extpoint *e = bay__registry_find(b->reg, name);
    bay__provider *sel[BAY_CHAN_EVENT_MAX + 1];
    size_t n = e ? bay__registry_select(e, context, sel, BAY_CHAN_EVENT_MAX + 1) : 0;
    *events = e && e->kind == BAY_EVENT ? n : 0;
    if (e == NULL)
        return bay_error_set(err, BAY_ENOENT, NULL, "no extension point \"%s\" is declared or provided", name), NULL;
    if (e->kind == BAY_FILTER)
        return bay_error_set(err, BAY_EUNAVAIL, NULL, "\"%s\" is a filter: plugbayd passes its arguments along "
                             "its chain", name), NULL;
    if (e->types && b->opt.check_types)
        return bay_error_set(err, BAY_EUNAVAIL, NULL, "\"%s\" is typed: plugbayd checks its values "
                             "(--check-types strict)", name), NULL;
    if (n == 0)
        return bay_error_set(err, BAY_ENOPROVIDER, NULL, "\"%s\" has no loaded provider%s%s", name,
                             context ? " for context " : "", context ? context : ""), NULL;
    if (n > BAY_CHAN_EVENT_MAX)
        return bay_error_set(err, BAY_EUNAVAIL, NULL, "event \"%s\" has more than %d providers: it fans out in plugbayd",
                             name, BAY_CHAN_EVENT_MAX), NULL;
    size_t reached = *events ? n : 1; /* a handle's call reaches its first provider only */
    if (index < 0 || (size_t)index >= reached)
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%s\" has no provider number %lld", name, (long long)index), NULL;
    for (size_t i = 0; i < reached; i++) {
        /* An event's every provider must be a loaded plugin: one host among them and it fans out in plugbayd. */
        if (strncmp(sel[i]->owner_name, "host:", 5) == 0)
            return bay_error_set(err, BAY_EUNAVAIL, NULL,
                                 "\"%s\" is provided by %s: only plugins' workers serve fast channels", name,
                                 sel[i]->owner_name), NULL;
        plugin *p = sel[i]->owner;
        if (p->m && p->m->replicas > 1)
            return bay_error_set(err, BAY_EUNAVAIL, p->id, "%s, which provides \"%s\", runs %d replicas: plugbayd "
                                 "spreads its calls over them", p->id, name, p->m->replicas), NULL;
        if (p->life.state != PS_LOADED || p->worker == NULL || !p->worker->hello_done)
            return bay_error_set(err, BAY_EUNAVAIL, p->id, "%s, which provides \"%s\", is %s", p->id, name,
                                 plugin_state_name(p->life.state)), NULL;
    }
    return sel[index]->owner;
}

/* host_grant returns host c's grant on p, opening one when it has none, or in
 * place of the one whose token is replace (not NULL: the host found that
 * channel closed by its worker, which drops a channel whose host broke the
 * rules or did not read in time and tells only the host); NULL with err when
 * that fails. */
static grant *host_grant(broker *b, conn *c, plugin *p, const char *replace, bay_error *err)
{
    for (grant *g = b->fast->grants; g; g = g->next)
        if (g->session == c->session && g->p == p) {
            if (replace == NULL || g->open_id || strcmp(g->token, replace) != 0)
                return g;
            close_on_worker(b, g); /* its worker closed it already; should the host be wrong, it closes now */
            drop(b, g, BAY_EUNAVAIL, "");
            break;
        }
    grant *g = open_grant(b, c, p);
    if (g == NULL)
        bay_error_set(err, BAY_EIO, p->id, "plugbayd could not ask %s's worker to admit the host (see its log)", p->id);
    return g;
}

/* wait_for_worker queues request id (for an event of so many providers, or 0) until g's worker answered. */
static int wait_for_worker(grant *g, uint64_t id, size_t events)
{
    ask *a = malloc(sizeof *a);
    if (a == NULL)
        return BAY_ENOMEM;
    *a = (ask){g->asks, id, events};
    g->asks = a;
    return 0;
}

/* channel_request finds or opens host c's grant for COMMAND channel f, or
 * returns NULL with err (*p: the plugin it is about, when known; *events: as provider's). */
static grant *channel_request(broker *b, conn *c, const bay__frame *f, plugin **p, size_t *events, bay_error *err)
{
    bay_value *args = NULL;
    if (state(b) == NULL) {
        bay_error_set(err, BAY_ENOMEM, NULL, "plugbayd is out of memory");
        return NULL;
    }
    if (f->value && bay__value_from_object(f->value, &args, err) != 0)
        return NULL;
    const char *name = bay_value_str(bay_map_get(args, "name"), NULL);
    const bay_value *ctx = bay_map_get(args, "context"), *index = bay_map_get(args, "provider"),
                    *replace = bay_map_get(args, "replace");
    grant *g = NULL;
    if (name == NULL || (ctx && bay_value_type(ctx) != BAY_NIL && bay_value_type(ctx) != BAY_STR) ||
        (index && bay_value_type(index) != BAY_INT) || (replace && bay_value_type(replace) != BAY_STR)) {
        bay_error_set(err, BAY_EINVAL, NULL,
                      "command \"channel\" needs {\"name\": EXTENSION-POINT, \"context\": string or nil, "
                      "\"provider\": an event's provider number (0 when left out), \"replace\": the token of a "
                      "channel its worker closed (or left out)}");
    } else if (c->path[0] == '\0') {
        bay_error_set(err, BAY_EUNAVAIL, NULL, "fast channels are for hosts on plugbayd's machine, connected over ipc://");
    } else if (!bay__role_allows(c->rights, BAY_ROLE_HOST)) {
        bay_error_set(err, BAY_EPERM, NULL, "%s may not call, so it gets no fast channel: that needs role host",
                      conn_who(c));
    } else if (c->grants) {
        /* A channel reaches every function of the plugin; the worker does not know a host's grants. */
        bay_error_set(err, BAY_EUNAVAIL, NULL,
                      "%s is limited by grants, so it calls through plugbayd, which checks them: no fast channel",
                      conn_who(c));
    } else {
        note_interest(b, c->session, name);
        if ((*p = provider(b, name, bay_value_str(ctx, NULL), bay_value_int(index), events, err)) != NULL)
            g = host_grant(b, c, *p, bay_value_str(replace, NULL), err);
    }
    bay_value_free(args);
    return g;
}

void fastpath_request(broker *b, conn *c, const bay__frame *f)
{
    plugin *p = NULL;
    size_t events = 0;
    bay_error err;
    grant *g = channel_request(b, c, f, &p, &events, &err);
    int rc = g ? 0 : err.code;
    if (g && g->open_id == 0)
        answer_grant(b, g, f->id, events);
    else if (g && (rc = wait_for_worker(g, f->id, events)) != 0)
        bay_error_set(&err, rc, NULL, "plugbayd is out of memory");
    if (rc)
        conn_send_error(b, c, f->id, rc, p ? p->id : NULL, "%s", err.message);
}

/* unlink_drain takes out of the list and returns a drain of p but on
 * worker session keep or, with p NULL, the one that request id of worker
 * session is; NULL when there is none. */
static drain *unlink_drain(broker *b, const plugin *p, uint64_t keep, uint64_t worker, uint64_t id)
{
    for (drain **dd = b->fast ? &b->fast->drains : NULL, *d; dd && (d = *dd) != NULL; dd = &d->next)
        if (p ? d->p == p && d->worker != keep : d->id == id && d->worker == worker) {
            *dd = d->next;
            return d;
        }
    return NULL;
}

bool fastpath_answer(broker *b, conn *worker, const bay__frame *f)
{
    drain *d = unlink_drain(b, NULL, 0, worker->session, f->id);
    if (d) {
        plugin *p = d->p;
        free(d);
        if (f->type == BAY_F_ERROR)
            bay__log(BAY_LOG_WARN, p->id, "its worker could not drain its fast calls: %s", f->message);
        b->drained(b, p);
        return true;
    }
    grant *g = b->fast ? b->fast->grants : NULL;
    while (g && !(g->open_id && g->open_id == f->id && g->worker == worker))
        g = g->next;
    if (g == NULL)
        return false;
    g->open_id = 0;
    bay_value *v = NULL;
    char why[600];
    if (f->type == BAY_F_RESULT && f->value && bay__value_from_object(f->value, &v, NULL) == 0)
        snprintf(g->address, sizeof g->address, "%s", bay_value_str(bay_map_get(v, "address"), NULL) ?: "");
    bay_value_free(v);
    if (g->address[0] == '\0') {
        snprintf(why, sizeof why, "%s's worker could not admit the host: %s", g->p->id,
                 f->type == BAY_F_ERROR ? f->message : "its answer has no address");
        drop(b, g, f->type == BAY_F_ERROR ? (int)f->code : BAY_EPROTO, why);
        return true;
    }
    for (ask *a = g->asks, *next; a; a = next) {
        next = a->next;
        answer_grant(b, g, a->id, a->events);
        free(a);
    }
    g->asks = NULL;
    return true;
}

void fastpath_worker_command(broker *b, conn *worker, const bay__frame *f)
{
    bay_value *args = NULL;
    char why[512];
    plugin *p = worker->plugin;
    int rc = f->value ? bay__value_from_object(f->value, &args, NULL) : BAY_EPROTO;
    const char *call = bay_value_str(bay_map_get(args, "call"), NULL);
    if (rc == 0 && strcmp(f->name, "channel.hung") == 0 && call && p) {
        snprintf(why, sizeof why, "hung: %s did not return within %d ms after its deadline or cancel", call,
                 b->opt.hang_grace_ms);
        supervise_kill_worker(b, worker, why);
    } else {
        conn_send_error(b, worker, f->id, BAY_EPROTO, p ? p->id : NULL,
                        "a worker may send COMMAND channel.hung {call, overdue_ms} only, not \"%s\"", f->name);
    }
    bay_value_free(args);
}

/* tell sends host session a channel-revoked notice. */
static void tell(broker *b, uint64_t session, const char *name, const char *plugin, const char *state,
                 const char *reason)
{
    conn *c = conn_get(b, session);
    bay__frame f = {.type = BAY_F_NOTICE, .what = "channel-revoked", .name = name, .plugin = plugin, .state = state,
                   .message = reason};
    if (c)
        conn_send(b, c, &f);
}

void fastpath_drain(broker *b, plugin *p, conn *worker)
{
    size_t n = 0;
    for (grant *g = b->fast && worker ? b->fast->grants : NULL; g; g = g->next)
        n += g->p == p && g->worker == worker;
    drain *d = n ? calloc(1, sizeof *d + n * sizeof *d->hosts) : NULL;
    if (d == NULL)
        return;
    for (grant *g = b->fast->grants; g; g = g->next)
        if (g->p == p && g->worker == worker)
            d->hosts[d->nhosts++] = g->session;
    d->p = p;
    d->worker = worker->session;
    d->id = ++b->next_call;
    bay__frame f = {.type = BAY_F_COMMAND, .id = d->id, .name = "channel.drain"};
    if (conn_send(b, worker, &f) != 0) {
        free(d);
        return;
    }
    d->next = b->fast->drains;
    b->fast->drains = d;
}

bool fastpath_draining(const broker *b, const plugin *p)
{
    for (const drain *d = b->fast ? b->fast->drains : NULL; d; d = d->next)
        if (d->p == p)
            return true;
    return false;
}

void fastpath_retire(broker *b, plugin *p, conn *old)
{
    fastpath_drain(b, p, old);
    for (grant *g = b->fast ? b->fast->grants : NULL, *next; g; g = next) {
        next = g->next;
        if (g->p != p || g->worker != old)
            continue;
        tell(b, g->session, "", p->id, "loaded", "reloaded: a new worker serves it");
        drop(b, g, BAY_EUNAVAIL, "reloaded: a new worker serves it; ask again");
    }
}

void fastpath_worker_gone(broker *b, plugin *p, uint64_t keep, const char *why)
{
    for (drain *d; (d = unlink_drain(b, p, keep, 0, 0)) != NULL; free(d))
        for (size_t i = 0; i < d->nhosts; i++)
            tell(b, d->hosts[i], "", p->id, plugin_state_name(p->life.state), why);
}

void fastpath_notice(broker *b, const char *what, const char *name, const char *plugin, const char *st,
                     const char *reason)
{
    if (b->fast == NULL)
        return;
    if (strcmp(what, "provider-added") == 0 || strcmp(what, "provider-removed") == 0 ||
        strcmp(what, "provider-moved") == 0) {
        for (interest **ii = &b->fast->interests, *i; (i = *ii) != NULL;) {
            if (strcmp(i->name, name) != 0) {
                ii = &i->next;
                continue;
            }
            tell(b, i->session, name, "", "", reason);
            *ii = i->next;
            free(i);
        }
    } else if (strcmp(what, "plugin-state") == 0 && strcmp(st, "loaded") != 0) {
        for (grant *g = b->fast->grants, *next; g; g = next) {
            next = g->next;
            if (strcmp(g->p->id, plugin) != 0)
                continue;
            tell(b, g->session, "", plugin, st, reason);
            close_on_worker(b, g);
            char why[600];
            snprintf(why, sizeof why, "%s is %s%s%s", plugin, st, reason[0] ? ": " : "", reason);
            drop(b, g, BAY_EUNAVAIL, why);
        }
    }
}

void fastpath_host_gone(broker *b, conn *c)
{
    if (b->fast == NULL)
        return;
    for (grant *g = b->fast->grants, *next; g; g = next) {
        next = g->next;
        if (g->session == c->session) {
            close_on_worker(b, g);
            drop(b, g, BAY_ECONN, "the host disconnected");
        }
    }
    for (interest **ii = &b->fast->interests, *i; (i = *ii) != NULL;)
        if (i->session == c->session) {
            *ii = i->next;
            free(i);
        } else {
            ii = &i->next;
        }
}

size_t fastpath_count(const broker *b)
{
    size_t n = 0;
    for (const grant *g = b->fast ? b->fast->grants : NULL; g; g = g->next)
        n += g->open_id == 0;
    return n;
}

void fastpath_free(broker *b)
{
    if (b->fast == NULL)
        return;
    while (b->fast->grants)
        drop(b, b->fast->grants, BAY_ECONN, "plugbayd is stopping");
    for (drain *d = b->fast->drains, *next; d; d = next) {
        next = d->next;
        free(d);
    }
    for (interest *i = b->fast->interests, *next; i; i = next) {
        next = i->next;
        free(i);
    }
    free(b->fast);
    b->fast = NULL;
}
