/* broker/route.c — calls: choosing providers, checking typed values, forwarding, gathering event results,
 * passing a filter's arguments along its chain, deadlines, cancel. */
#include "broker.h"
#include "conn.h"
#include "route.h"
#include "share.h"
#include "supervise.h"
#include "value_convert.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A call in flight: from a caller (host, worker or a timer) to providers. */
typedef struct call {
    uint64_t id;           /* the broker's id, used towards providers */
    uint64_t origin;       /* caller's session, 0 for a timer tick */
    uint64_t origin_id;    /* caller's id */
    uint64_t caller;       /* the session that sent it, events too (its calls_in_flight counts it), 0 for a timer */
    char *name;            /* extension point */
    char *context;
    int kind;
    void *args;            /* packed msgpack args (a filter's: as its last provider passed them on) */
    size_t args_len;
    int64_t deadline_ms;
    /* the providers to call, in order (a snapshot), and where we are */
    struct target { bool host; bool first; uint64_t session; plugin *plugin; char owner[128]; } *targets;
                           /* first: to a plugin's own worker, none of its replicas (plugbayd's own calls) */
    size_t ntargets, next;
    struct target *current;
    uint64_t current_session; /* connection the current CALL went to */
    int64_t sent_ns;          /* when the current CALL went out (CLOCK_MONOTONIC) */
    bool answered;         /* the caller has its answer; waiting only for the provider to finish */
    int64_t abandoned_ms;  /* when the caller was answered before the provider finished */
    /* gathered event results: packed map per provider */
    msgpack_sbuffer gathered;
    size_t ngathered;
    plugin_timer *timer;   /* for a timer tick */
    bool hook;             /* plugbayd's own call of a plugin's hook (route_hook): no caller, a failure logged */
    bool held;             /* waiting its turn at its next target (fair shares) */
    bool stream;           /* the caller reads the answer as a stream of CHUNKs (a handle's, CALL's window) */
    int64_t window;        /* the CHUNKs the caller takes now: its CALL's window, plus its CREDITs, less those sent */
    size_t chunks;         /* the CHUNKs sent to the caller */
    bool input;            /* the caller sends its input as CHUNKs, then END (a handle's, CALL's input) */
    bool input_ended;      /* its END came */
    int64_t input_credit;  /* the input CHUNKs the provider takes now: its CREDITs less those sent */
    size_t input_chunks;   /* the input CHUNKs sent to the provider */
    bool shared;           /* counted in the fair shares at its current target */
} call;

/* The calls in flight, by the broker's id, and the fair shares: how many
 * calls each host has at each plugin, and the hosts' calls waiting their
 * turn (in arrival order). */
struct route_calls {
    bay__idmap *byid;
    bay__shares *shares;
    call **held;
    size_t nheld, held_cap;
};

#define TIMER_TIMEOUT_MS 30000
/* Calls and events one connection may have in flight at once: past it, more
 * are refused (BAY_EBUSY), so that one flooding peer cannot fill plugbayd's
 * table, its memory and the providers' queues for everyone. */
#define CONN_CALLS_MAX 1024
#define MAX_TIMEOUT_MS (3600 * 1000)
/* The most CHUNKs a stream's caller may take at once (its window and credits added up). */
#define STREAM_WINDOW_MAX 4096

/* unhold takes k off the calls waiting their turn. */
static void unhold(broker *b, call *k)
{
    struct route_calls *r = b->calls;
    for (size_t i = 0; i < r->nheld; i++)
        if (r->held[i] == k) {
            memmove(r->held + i, r->held + i + 1, (r->nheld - i - 1) * sizeof *r->held);
            r->nheld--;
            break;
        }
    k->held = false;
    plugin *p = k->targets[k->next].plugin;
    p->stats.waiting--;
    bay__shares_add(b->calls->shares, k->caller, p, BAY_SHARE_WAITING, -1);
}

static void call_free(broker *b, call *k)
{
    if (k->held)
        unhold(b, k);
    if (k->timer)
        k->timer->running = false;
    conn *from = k->caller ? conn_get(b, k->caller) : NULL;
    if (from)
        from->calls_in_flight--;
    conn *origin = k->origin ? conn_get(b, k->origin) : NULL;
    if (origin && origin->asked && bay__idmap_get(origin->asked, k->origin_id) == k)
        bay__idmap_del(origin->asked, k->origin_id);
    bay__idmap_del(b->calls->byid, k->id);
    free(k->name);
    free(k->context);
    free(k->args);
    free(k->targets);
    msgpack_sbuffer_destroy(&k->gathered);
    free(k);
}

/* snapshot returns every call in flight (the caller frees the array), so the
 * walker may free calls as it goes. */
static call **snapshot(broker *b, size_t *n)
{
    size_t count = bay__idmap_count(b->calls->byid);
    call **all = malloc((count ? count : 1) * sizeof *all);
    *n = all ? bay__idmap_values(b->calls->byid, (void **)all, count) : 0;
    return all;
}

/* answer_error sends ERROR to the caller, if there is one to answer. */
static void answer_error(broker *b, call *k, int code, const char *plugin, const char *msg)
{
    conn *c = k->origin ? conn_get(b, k->origin) : NULL;
    if (c)
        conn_send_error(b, c, k->origin_id, code, plugin, "%s", msg);
    else if (k->timer == NULL && !k->hook && k->origin == 0 && code)
        bay__log(BAY_LOG_WARN, plugin, "event %s: %s", k->name, msg);
    k->answered = true;
}

static void answer_value(broker *b, call *k, const msgpack_object *value, const void *raw, size_t raw_len)
{
    conn *c = k->origin ? conn_get(b, k->origin) : NULL;
    if (c) {
        bay__frame f = {.type = BAY_F_RESULT, .id = k->origin_id, .value = value, .raw = raw, .raw_len = raw_len};
        conn_send(b, c, &f);
    }
    k->answered = true;
}

/* misfit checks v, given to (args) or answered by (owner) a call of e
 * (NULL: none any more), against e's types when plugbayd checks them
 * (--check-types strict): BAY_ETYPE with msg (len bytes) saying where and
 * what, or 0. */
static int misfit(broker *b, const bay__extpoint *e, bool args, const char *owner, const msgpack_object *v, char *msg,
                  size_t len)
{
    const bay__schema *s = e == NULL || !b->opt.check_types ? NULL : args ? e->parsed.args : e->parsed.result;
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    char why[400];
    if (s == NULL || bay__schema_check(s, v ? v : &nil, why, sizeof why) == 0)
        return 0;
    if (args && owner == NULL)
        snprintf(msg, len, "\"%s\": the arguments do not fit the types %s declared: %s", e->name, e->typed_by, why);
    else
        snprintf(msg, len, "\"%s\": %s answered %s the types %s declared do not allow: %s", e->name, owner,
                 args ? "arguments to pass on" : "a result", e->typed_by, why);
    return BAY_ETYPE;
}

/* misfit_chunk checks v (NULL: nil) as the next item of the array k's types
 * declare (schema.h), when plugbayd checks them: a chunk owner streams of k's
 * answer (or the last, in its RESULT) against the result's, or (owner NULL) a
 * chunk of the input k's caller sends against the input's. BAY_ETYPE with
 * msg (len bytes), or 0. */
static int misfit_chunk(broker *b, const call *k, const char *owner, const msgpack_object *v, char *msg, size_t len)
{
    const bay__extpoint *e = b->opt.check_types ? bay__registry_find(b->reg, k->name) : NULL;
    const bay__schema *s = e == NULL ? NULL : owner ? e->parsed.result : e->parsed.input;
    size_t index = owner ? k->chunks : k->input_chunks;
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    char why[400];
    if (s == NULL || bay__schema_check_item(s, index, v ? v : &nil, why, sizeof why) == 0)
        return 0;
    if (owner)
        snprintf(msg, len, "\"%s\": %s streamed chunk %zu, which the types %s declared do not allow: %s", e->name,
                 owner, index + 1, e->typed_by, why);
    else
        snprintf(msg, len, "\"%s\": input chunk %zu does not fit the types %s declared: %s", e->name, index + 1,
                 e->typed_by, why);
    return BAY_ETYPE;
}

/* gather appends one provider's outcome to an event's results. */
static void gather(call *k, const char *owner, const msgpack_object *value, int code, const char *message)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &k->gathered, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    bay__pack_str(&pk, "plugin");
    bay__pack_str(&pk, owner);
    if (code == 0) {
        bay__pack_str(&pk, "value");
        if (value)
            msgpack_pack_object(&pk, *value);
        else
            msgpack_pack_nil(&pk);
    } else {
        bay__pack_str(&pk, "error");
        msgpack_pack_map(&pk, 3);
        bay__pack_str(&pk, "code");
        msgpack_pack_int(&pk, code);
        bay__pack_str(&pk, "name");
        bay__pack_str(&pk, bay_errname(code));
        bay__pack_str(&pk, "message");
        bay__pack_str(&pk, message);
    }
    k->ngathered++;
}

/* finish_event answers an event's caller with every outcome gathered, in load order. */
static void finish_event(broker *b, call *k)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, k->ngathered);
    msgpack_sbuffer_write(&out, k->gathered.data, k->gathered.size);
    answer_value(b, k, NULL, out.data, out.size);
    msgpack_sbuffer_destroy(&out);
}

/* target_conn returns the connection a target is served on now, or NULL with why. */
static conn *target_conn(broker *b, const struct target *t, const char **why)
{
    if (t->host) {
        conn *c = conn_get(b, t->session);
        *why = "the host providing it disconnected";
        return c;
    }
    plugin *p = t->plugin;
    if (p->life.state != PS_LOADED || p->worker == NULL) {
        *why = p->life.state == PS_UNLOADING ? "it is unloading" : "it is no longer loaded";
        return NULL;
    }
    return t->first ? p->worker : plugin_pick_worker(p);
}

static int64_t remaining(const call *k, int64_t now)
{
    return k->deadline_ms > now ? k->deadline_ms - now : 0;
}

/* host_caller returns the host that made k, or NULL (a plugin, a timer). */
static const conn *host_caller(broker *b, const call *k)
{
    const conn *from = k->caller ? conn_get(b, k->caller) : NULL;
    return from && from->role == ROLE_HOST ? from : NULL;
}

/* waits_turn tells whether k, made by host (host_caller), waits for its turn
 * at plugin p at now_ms (fair shares, share.h). Events, and calls from
 * plugins (host NULL) and timers, go on: a plugin's call may be part of one
 * that waits for it. A filter's call waits its turn at each of its providers
 * as a handle's does at its one. */
static bool waits_turn(broker *b, const call *k, const conn *host, const plugin *p, int64_t now_ms)
{
    if (k->kind == BAY_EVENT || host == NULL)
        return false;
    const bay__shares *s = b->calls->shares;
    unsigned mine = bay__shares_count(s, k->caller, p, BAY_SHARE_IN_FLIGHT);
    bool shared = bay__share_shared(&p->stats.callers, k->caller, now_ms) ||
                  (unsigned)p->stats.waiting > bay__shares_count(s, k->caller, p, BAY_SHARE_WAITING);
    unsigned workers = plugin_workers_serving(p);
    return bay__share_must_wait(mine, (unsigned)p->stats.inflight, workers ? workers : 1, shared,
                                host->calls_serving > 0);
}

/* hold puts k, whose next target is a plugin, among the calls waiting their
 * turn; false when out of memory (then k goes on). */
static bool hold(broker *b, call *k)
{
    struct route_calls *r = b->calls;
    plugin *p = k->targets[k->next].plugin;
    if (bay__shares_add(r->shares, k->caller, p, BAY_SHARE_WAITING, 1) != 0)
        return false;
    if (r->nheld == r->held_cap) {
        size_t cap = r->held_cap ? 2 * r->held_cap : 16;
        call **v = realloc(r->held, cap * sizeof *v);
        if (v == NULL) {
            bay__shares_add(r->shares, k->caller, p, BAY_SHARE_WAITING, -1);
            return false;
        }
        r->held = v;
        r->held_cap = cap;
    }
    r->held[r->nheld++] = k;
    k->held = true;
    p->stats.waiting++;
    return true;
}

/* sent accounts for k's CALL that went to target t on c (by_host: a host made k). */
static void sent(broker *b, call *k, struct target *t, conn *c, bool by_host)
{
    k->current = t;
    k->current_session = c->session;
    k->sent_ns = bay__now_ns();
    c->calls_serving++;
    if (!t->host) {
        t->plugin->stats.inflight++;
        k->shared = by_host && bay__shares_add(b->calls->shares, k->caller, t->plugin, BAY_SHARE_IN_FLIGHT, 1) == 0;
    }
}

/* send_next forwards the call to its next target, unless it must wait its
 * turn there; with none left it finishes the call. An event skips targets it
 * cannot reach and records why; a filter fails closed, as a handle does: a
 * provider it cannot reach ends its chain with BAY_EUNAVAIL. */
static void send_next(broker *b, call *k)
{
    const conn *host = host_caller(b, k);
    int64_t now = bay__now_ms();
    while (k->next < k->ntargets) {
        struct target *t = &k->targets[k->next];
        if (!t->host && t->plugin->life.state == PS_LOADED) {
            if (host)
                bay__share_called(&t->plugin->stats.callers, k->caller, now);
            if (waits_turn(b, k, host, t->plugin, now) && hold(b, k))
                return;
        }
        k->next++;
        const char *why = NULL;
        conn *c = target_conn(b, t, &why);
        if (c) {
            bay__frame f = {.type = BAY_F_CALL, .id = k->id, .name = k->name, .raw = k->args, .raw_len = k->args_len,
                           .timeout_ms = remaining(k, now), .context = k->context, .window = k->window,
                           .input = k->input};
            int rc = conn_send(b, c, &f);
            if (rc == 0 && k->input_ended) /* the caller ended its input before the call reached a provider */
                rc = conn_send(b, c, &(bay__frame){.type = BAY_F_END, .id = k->id});
            if (rc == 0) {
                sent(b, k, t, c, host != NULL);
                return;
            }
            why = rc == BAY_EBUSY ? "its queue is full (too many calls in flight)" : "its connection failed";
        }
        char msg[512];
        snprintf(msg, sizeof msg, "%s cannot serve %s: %s", t->owner, k->name, why);
        if (k->kind == BAY_EVENT) {
            gather(k, t->owner, NULL, BAY_EUNAVAIL, msg);
            continue;
        }
        answer_error(b, k, BAY_EUNAVAIL, t->owner, msg);
        call_free(b, k);
        return;
    }
    k->current = NULL;
    if (k->kind == BAY_EVENT && !k->answered)
        finish_event(b, k);
    else if (k->kind == BAY_FILTER && !k->answered)
        answer_value(b, k, NULL, k->args, k->args_len);
    call_free(b, k);
}

/* who_provides appends to out, for each plugin whose manifest provides name
 * but that is not loaded, "; ID provides it but is STATE: REASON". */
static void who_provides(broker *b, const char *name, char *out, size_t len)
{
    size_t n = strlen(out);
    for (size_t i = 0; i < b->nplugins && n < len; i++) {
        plugin *p = b->plugins[i];
        for (size_t j = 0; p->m && j < p->m->nprovides && n < len; j++)
            if (strcmp(p->m->provides[j].name, name) == 0 && p->life.state != PS_LOADED)
                n += (size_t)snprintf(out + n, len - n, "; %s provides it but is %s%s%s", p->id,
                                      plugin_state_name(p->life.state), p->life.reason[0] ? ": " : "", p->life.reason);
    }
}

/* call_new makes a call for name with packed args; returns NULL when out of memory. */
static call *call_new(broker *b, const char *name, const char *context, int kind, const msgpack_object *args,
                      int64_t timeout_ms)
{
    call *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    msgpack_sbuffer_init(&k->gathered);
    k->id = ++b->next_call;
    k->kind = kind;
    if (timeout_ms <= 0)
        timeout_ms = BAY_DEFAULT_TIMEOUT_MS;
    k->deadline_ms = bay__now_ms() + (timeout_ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : timeout_ms);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (args)
        msgpack_pack_object(&pk, *args);
    else
        msgpack_pack_array(&pk, 0);
    k->args_len = sb.size;
    k->args = msgpack_sbuffer_release(&sb);
    k->name = strdup(name);
    k->context = context ? strdup(context) : NULL;
    if (!k->name || (context && !k->context) || !k->args || bay__idmap_put(b->calls->byid, k->id, k)) {
        call_free(b, k);
        return NULL;
    }
    return k;
}

/* select_providers returns the providers of e that accept ctx, in load order
 * (all of them for an event, the first for a handle), as an array of *n the
 * caller frees; NULL when out of memory. It is sized by e: an event reaches
 * every provider, however many. */
static bay__provider **select_providers(const bay__extpoint *e, const char *ctx, size_t *n)
{
    bay__provider **sel = malloc((e->nproviders ? e->nproviders : 1) * sizeof *sel);
    *n = sel ? bay__registry_select(e, ctx, sel, e->nproviders) : 0;
    return sel;
}

/* set_targets copies the selected providers into k's targets. */
static int set_targets(call *k, bay__provider **sel, size_t n)
{
    k->targets = calloc(n ? n : 1, sizeof *k->targets);
    if (k->targets == NULL)
        return BAY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct target *t = &k->targets[i];
        t->host = strncmp(sel[i]->owner_name, "host:", 5) == 0; /* plugin ids never hold ':' */
        if (t->host)
            t->session = ((conn *)sel[i]->owner)->session;
        else
            t->plugin = sel[i]->owner;
        snprintf(t->owner, sizeof t->owner, "%s", sel[i]->owner_name);
    }
    k->ntargets = n;
    return 0;
}

/* refuse_call answers caller's call f, which it was not granted: with the
 * grant command that gives it the permission its manifest asks for that
 * covers the call (call:NAME, or a pattern like call:*), else saying that its
 * manifest must ask for it first. */
static void refuse_call(broker *b, conn *from, const bay__frame *f, const plugin *caller)
{
    char wanted[300];
    snprintf(wanted, sizeof wanted, "call:%s", f->name);
    char **asked = caller->m ? permission_requested(caller->m) : NULL;
    const char *covers = permission_covering(asked, wanted);
    if (covers)
        conn_send_error(b, from, f->id, BAY_EPERM, caller->id, "%s may not call \"%s\": it was not granted %s; grant it "
                        "with `plugbay grant %s --grant %s`", caller->id, f->name, covers, caller->id, covers);
    else
        conn_send_error(b, from, f->id, BAY_EPERM, caller->id, "%s may not call \"%s\": its manifest does not ask "
                        "for %s (its \"permissions\"), so it cannot be granted", caller->id, f->name, wanted);
    bay__strv_free(asked);
}

/* set_origin makes k answer from's request id: by_origin finds k by it from
 * then on (an earlier call of from's with that id no more). 0 or BAY_ENOMEM. */
static int set_origin(call *k, conn *from, uint64_t id)
{
    if ((from->asked == NULL && (from->asked = bay__idmap_new()) == NULL) || bay__idmap_put(from->asked, id, k))
        return BAY_ENOMEM;
    k->origin = from->session;
    k->origin_id = id;
    return 0;
}

/* start routes a call (answer) or an event (nobody to answer) from a caller. */
static void start(broker *b, conn *from, const bay__frame *f, bool answer)
{
    char msg[1024];
    plugin *caller = from->role == ROLE_WORKER ? from->plugin : NULL;
    bay__state_plugin *sp = caller ? bay__state_find(b->state, caller->id) : NULL;
    if (caller && !permission_granted(sp ? sp->granted : NULL, "call", f->name)) {
        if (answer)
            refuse_call(b, from, f, caller);
        else
            bay__log(BAY_LOG_WARN, caller->id, "refused event %s: not granted call:%s", f->name, f->name);
        return;
    }
    if (answer && f->id == 0) {
        conn_send_error(b, from, 0, BAY_EPROTO, NULL, "call \"%s\": a CALL's id is 1 or more (each side numbers its "
                        "requests from 1)", f->name);
        return;
    }
    if (f->input != 0 && (f->input != 1 || f->type != BAY_F_CALL)) {
        conn_send_error(b, from, f->id, BAY_EPROTO, NULL, "call \"%s\": input is 1 (the caller sends its input as a "
                        "stream) or left out, not %lld", f->name, (long long)f->input);
        return;
    }
    if (f->window < 0 || f->window > STREAM_WINDOW_MAX) {
        conn_send_error(b, from, f->id, BAY_EPROTO, NULL, "call \"%s\": a stream's window is 1 to %d chunks, not %lld",
                        f->name, STREAM_WINDOW_MAX, (long long)f->window);
        return;
    }
    if (from->calls_in_flight >= CONN_CALLS_MAX) {
        if (answer)
            conn_send_error(b, from, f->id, BAY_EBUSY, NULL,
                            "%s has %d calls and events in flight, the most one connection may; wait for answers "
                            "before sending more",
                            from->name, CONN_CALLS_MAX);
        else
            bay__log_limited(&from->dropped_log, bay__now_ms(), BAY_LOG_WARN, from->name,
                             "dropped event %s: %d calls and events in flight, the most one connection may", f->name,
                             CONN_CALLS_MAX);
        return;
    }
    bay__extpoint *e = bay__registry_route(b->reg, f->name, f->context);
    if (e == NULL) {
        snprintf(msg, sizeof msg, "no extension point \"%s\" is declared or provided", f->name);
        who_provides(b, f->name, msg, sizeof msg);
        if (answer)
            conn_send_error(b, from, f->id, BAY_ENOENT, NULL, "%s", msg);
        return;
    }
    if (f->input && e->kind != BAY_HANDLE) {
        conn_send_error(b, from, f->id, BAY_EKIND, NULL, "\"%s\" is %s %s: only a handle's call takes input as a "
                        "stream", f->name, e->kind == BAY_EVENT ? "an" : "a", bay__kind_name(e->kind));
        return;
    }
    if (misfit(b, e, true, NULL, f->value, msg, sizeof msg)) {
        if (answer)
            conn_send_error(b, from, f->id, BAY_ETYPE, NULL, "%s", msg);
        else
            bay__log_limited(&from->dropped_log, bay__now_ms(), BAY_LOG_WARN, from->name, "dropped event %s", msg);
        return;
    }
    size_t n;
    bay__provider **sel = select_providers(e, f->context, &n);
    if (sel && n == 0 && e->kind == BAY_HANDLE) {
        free(sel);
        snprintf(msg, sizeof msg, "extension point \"%s\" has no loaded provider%s%s%s", f->name,
                 f->context ? " for context \"" : "", f->context ? f->context : "", f->context ? "\"" : "");
        who_provides(b, f->name, msg, sizeof msg);
        if (answer)
            conn_send_error(b, from, f->id, BAY_ENOPROVIDER, NULL, "%s", msg);
        return;
    }
    call *k = sel ? call_new(b, f->name, f->context, e->kind, f->value, f->type == BAY_F_CALL ? f->timeout_ms : 0)
                  : NULL;
    int rc = k ? set_targets(k, sel, n) : BAY_ENOMEM;
    if (rc == 0 && answer)
        rc = set_origin(k, from, f->id);
    free(sel);
    if (rc) {
        if (answer)
            conn_send_error(b, from, f->id, BAY_ENOMEM, NULL, "plugbayd is out of memory");
        if (k)
            call_free(b, k);
        return;
    }
    k->caller = from->session;
    k->stream = f->window > 0 && e->kind == BAY_HANDLE;
    k->window = k->stream ? f->window : 0;
    k->input = f->input != 0;
    from->calls_in_flight++;
    send_next(b, k);
}

void route_call(broker *b, conn *from, const bay__frame *f)
{
    start(b, from, f, true);
}

void route_event(broker *b, conn *from, const bay__frame *f)
{
    start(b, from, f, false);
}

/* to_plugin makes plugbayd's own call name of p (a timer's tick, a hook) with args (NULL: none) within
 * timeout_ms: no caller waits for it. NULL when out of memory. */
static call *to_plugin(broker *b, plugin *p, const char *name, const msgpack_object *args, int64_t timeout_ms)
{
    call *k = call_new(b, name, NULL, BAY_HANDLE, args, timeout_ms);
    if (k == NULL || (k->targets = calloc(1, sizeof *k->targets)) == NULL) {
        if (k)
            call_free(b, k);
        return NULL;
    }
    k->targets[0].plugin = p;
    k->targets[0].first = true; /* a timer ticks, a hook runs, on one worker: the plugin's own */
    snprintf(k->targets[0].owner, sizeof k->targets[0].owner, "%s", p->id);
    k->ntargets = 1;
    return k;
}

uint64_t route_timer_tick(broker *b, plugin *p, plugin_timer *t)
{
    char name[300];
    snprintf(name, sizeof name, "timer:%s", t->decl->name);
    call *k = to_plugin(b, p, name, NULL, TIMER_TIMEOUT_MS);
    if (k == NULL)
        return 0;
    k->timer = t;
    t->running = true;
    uint64_t id = k->id;
    send_next(b, k);
    return id;
}

uint64_t route_hook(broker *b, plugin *p, const char *name, const msgpack_object *args, int64_t timeout_ms)
{
    call *k = to_plugin(b, p, name, args, timeout_ms);
    if (k == NULL)
        return 0;
    k->hook = true;
    uint64_t id = k->id;
    send_next(b, k);
    return id;
}

int route_call_plugin(broker *b, conn *from, uint64_t origin_id, plugin *p, const char *name,
                      const msgpack_object *args, int64_t timeout_ms, bay_error *err)
{
    if (origin_id == 0)
        return bay_error_set(err, BAY_EPROTO, NULL, "a request's id is 1 or more (each side numbers its requests from 1)");
    if (p->life.state != PS_LOADED || p->worker == NULL)
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is %s, not loaded: load it first (`plugbay load %s`)", p->id,
                             plugin_state_name(p->life.state), p->id);
    bay__extpoint *e = bay__registry_route(b->reg, name, NULL);
    bool provides = false;
    for (size_t i = 0; e && e->kind == BAY_HANDLE && i < e->nproviders; i++)
        provides = provides || e->providers[i]->owner == p;
    if (!provides)
        return bay_error_set(err, BAY_EPERM, p->id, "%s does not provide handle \"%s\"%s: a panel calls only its own "
                             "plugin's handles", p->id, name, e && e->kind == BAY_EVENT ? " (it is an event)" : "");
    if (from->calls_in_flight >= CONN_CALLS_MAX)
        return bay_error_set(err, BAY_EBUSY, p->id, "%s has %d calls and events in flight, the most one connection "
                             "may; wait for answers before sending more", from->name, CONN_CALLS_MAX);
    call *k = to_plugin(b, p, name, args, timeout_ms);
    if (k && set_origin(k, from, origin_id) != 0) {
        call_free(b, k);
        k = NULL;
    }
    if (k == NULL)
        return bay_error_set(err, BAY_ENOMEM, p->id, "plugbayd is out of memory");
    k->caller = from->session;
    from->calls_in_flight++;
    send_next(b, k);
    return 0;
}

/* provider_done accounts for the end of the current target's work, which
 * ended with code (0: answered). */
static void provider_done(broker *b, call *k, int code)
{
    struct target *t = k->current;
    k->current = NULL;
    conn *c = t ? conn_get(b, k->current_session) : NULL;
    if (c && c->calls_serving > 0)
        c->calls_serving--;
    if (t == NULL || t->host)
        return;
    plugin *p = t->plugin;
    if (k->shared)
        bay__shares_add(b->calls->shares, k->caller, p, BAY_SHARE_IN_FLIGHT, -1);
    k->shared = false;
    double us = (double)(bay__now_ns() - k->sent_ns) / 1000.0;
    bay__callstat_add(&p->stats.total, code, us);
    p->stats.latency_us[p->stats.nlatency++ % (sizeof p->stats.latency_us / sizeof *p->stats.latency_us)] = (float)us;
    bool last = p->stats.inflight > 0 && --p->stats.inflight == 0;
    bool retiring = p->life.reload == RELOAD_DRAINING && p->other_worker && k->current_session == p->other_worker->session;
    if ((last && p->life.state == PS_UNLOADING) || retiring)
        b->drained(b, p);
}

/* pass_on takes what a filter's provider owner answered: nil passes the
 * arguments on as they are, an array passes it on instead. Anything else ends
 * the chain with BAY_ETYPE (returned; 0 otherwise), the caller answered. */
static int pass_on(broker *b, call *k, const char *owner, const msgpack_object *value)
{
    if (value == NULL || value->type == MSGPACK_OBJECT_NIL)
        return 0;
    char msg[1024];
    if (value->type == MSGPACK_OBJECT_ARRAY && b->opt.check_types &&
        misfit(b, bay__registry_find(b->reg, k->name), true, owner, value, msg, sizeof msg)) {
        answer_error(b, k, BAY_ETYPE, owner, msg);
        return BAY_ETYPE;
    }
    if (value->type != MSGPACK_OBJECT_ARRAY) {
        snprintf(msg, sizeof msg, "filter %s: %s answered a %s; a filter's provider answers the arguments to pass on "
                 "(an array), nil to pass them on unchanged, or an error to stop the chain", k->name, owner,
                 bay__object_type_name(value));
        answer_error(b, k, BAY_ETYPE, owner, msg);
        return BAY_ETYPE;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_object(&pk, *value) != 0 || sb.data == NULL) {
        msgpack_sbuffer_destroy(&sb);
        answer_error(b, k, BAY_ENOMEM, NULL, "plugbayd is out of memory");
        return BAY_ENOMEM;
    }
    free(k->args);
    k->args_len = sb.size;
    k->args = msgpack_sbuffer_release(&sb);
    return 0;
}

/* take_turns sends on, in arrival order, the calls waiting their turn at p
 * that need not wait any more (one of p's calls ended). */
static void take_turns(broker *b, plugin *p)
{
    struct route_calls *r = b->calls;
    int64_t now = bay__now_ms();
    for (size_t i = 0; i < r->nheld;) {
        call *k = r->held[i];
        if (k->targets[k->next].plugin != p ||
            (p->life.state == PS_LOADED && waits_turn(b, k, host_caller(b, k), p, now))) {
            i++;
            continue;
        }
        unhold(b, k);
        send_next(b, k); /* it may fail and free k: r->held[i] is the next one now */
    }
}

void route_answer(broker *b, conn *from, const bay__frame *f)
{
    call *k = bay__idmap_get(b->calls->byid, f->id);
    if (k == NULL || k->current == NULL || k->current_session != from->session) {
        bay__log(BAY_LOG_DEBUG, from->name, "answer %llu matches no call in flight (late or cancelled)",
                (unsigned long long)f->id);
        return;
    }
    struct target *t = k->current;
    bool failed = f->type == BAY_F_ERROR;
    const char *owner = f->plugin && failed ? f->plugin : t->owner;
    char owner_copy[128];
    snprintf(owner_copy, sizeof owner_copy, "%s", owner);
    plugin *p = t->host ? NULL : t->plugin;
    char msg[1024];
    int misfits = failed || k->kind == BAY_FILTER || !b->opt.check_types ? 0
                  : k->stream ? (f->value && f->value->type != MSGPACK_OBJECT_NIL ? misfit_chunk(b, k, owner_copy, f->value, msg, sizeof msg) : 0)
                              : misfit(b, bay__registry_find(b->reg, k->name), false, owner_copy, f->value, msg, sizeof msg);
    provider_done(b, k, failed ? (f->code > 0 ? (int)f->code : BAY_EPLUGIN) : misfits);
    if ((k->timer || k->hook) && failed)
        bay__log(BAY_LOG_WARN, owner_copy, "%s failed: %s", k->name, f->message);
    if (k->answered) {
        call_free(b, k);
    } else if (misfits && k->kind == BAY_EVENT) {
        gather(k, owner_copy, NULL, misfits, msg);
        send_next(b, k);
    } else if (misfits) {
        answer_error(b, k, misfits, owner_copy, msg);
        call_free(b, k);
    } else if (k->kind == BAY_EVENT) {
        gather(k, owner_copy, f->value, failed ? (int)f->code : 0, failed ? f->message : NULL);
        send_next(b, k);
    } else if (k->kind == BAY_FILTER && !failed) {
        if (pass_on(b, k, owner_copy, f->value) == 0)
            send_next(b, k);
        else
            call_free(b, k);
    } else {
        if (failed)
            answer_error(b, k, (int)f->code, owner_copy, f->message);
        else
            answer_value(b, k, f->value, NULL, 0);
        call_free(b, k);
    }
    if (p)
        take_turns(b, p);
}

static void cancel_current(broker *b, call *k, int64_t now, int why);

/* by_origin returns the call in flight that from made as its request id, unanswered, or NULL. */
static call *by_origin(const conn *from, uint64_t id)
{
    call *k = from->asked ? bay__idmap_get(from->asked, id) : NULL;
    return k && !k->answered ? k : NULL;
}

/* served_by returns the call in flight whose broker id is id and which from serves now, or NULL. */
static call *served_by(broker *b, const conn *from, uint64_t id)
{
    call *k = bay__idmap_get(b->calls->byid, id);
    return k && k->current && k->current_session == from->session ? k : NULL;
}

/* stream_fails ends call k with code and msg (a stream's frame broke its rules) and tells its provider to stop. */
static void stream_fails(broker *b, call *k, int code, const char *owner, const char *msg)
{
    answer_error(b, k, code, owner, msg);
    if (k->current)
        cancel_current(b, k, bay__now_ms(), BAY_ECANCELED);
    else
        call_free(b, k);
}

/* input_chunk forwards a CHUNK of call k's input, which its caller sent, to its provider, within the provider's
 * credit and k's types. */
static void input_chunk(broker *b, call *k, const bay__frame *f)
{
    char msg[1024];
    int code = BAY_EPROTO;
    if (!k->input || k->input_ended)
        snprintf(msg, sizeof msg, "%s: the caller sent input %s", k->name,
                 k->input ? "after its END" : "to a call it did not say takes input (CALL's input field)");
    else if (k->input_credit <= 0)
        snprintf(msg, sizeof msg, "%s: the caller sent more input than its provider took: it did not wait for the "
                 "provider's credit", k->name);
    else if ((code = misfit_chunk(b, k, NULL, f->value, msg, sizeof msg)) == 0) {
        conn *c = k->current ? conn_get(b, k->current_session) : NULL;
        if (c) {
            bay__frame out = {.type = BAY_F_CHUNK, .id = k->id, .value = f->value};
            conn_send(b, c, &out);
        }
        k->input_credit--;
        k->input_chunks++;
        return;
    }
    stream_fails(b, k, code, NULL, msg);
}

void route_chunk(broker *b, conn *from, const bay__frame *f)
{
    call *k = served_by(b, from, f->id);
    if (k == NULL && (k = by_origin(from, f->id)) != NULL) {
        input_chunk(b, k, f);
        return;
    }
    if (k == NULL || k->answered) {
        bay__log(BAY_LOG_DEBUG, from->name, "chunk of %llu matches no stream in flight (late or cancelled)",
                 (unsigned long long)f->id);
        return;
    }
    char msg[1024];
    int code = BAY_EPROTO;
    if (!k->stream)
        snprintf(msg, sizeof msg, "%s sent a chunk of %s, whose caller does not read a stream (a plain call, an "
                 "event or a filter); plugbay's libraries gather such chunks into the answer", k->current->owner,
                 k->name);
    else if (k->window <= 0)
        snprintf(msg, sizeof msg, "%s sent more chunks of %s than its caller took: it did not wait for the caller's "
                 "credit", k->current->owner, k->name);
    else if ((code = misfit_chunk(b, k, k->current->owner, f->value, msg, sizeof msg)) == 0) {
        conn *c = conn_get(b, k->origin);
        if (c) {
            bay__frame out = {.type = BAY_F_CHUNK, .id = k->origin_id, .value = f->value};
            conn_send(b, c, &out);
        }
        k->window--;
        k->chunks++;
        return;
    }
    stream_fails(b, k, code, k->current->owner, msg);
}

/* credit_fits tells whether a CREDIT of count may add to window: positive, and the sum at most STREAM_WINDOW_MAX;
 * else says so in msg. */
static bool credit_fits(const call *k, int64_t count, int64_t window, char *msg, size_t len)
{
    if (count > 0 && count <= STREAM_WINDOW_MAX - window)
        return true;
    snprintf(msg, len, "%s: a credit of %lld chunks would let the stream's window pass %d (or is not positive); the "
             "stream was cancelled", k->name, (long long)count, STREAM_WINDOW_MAX);
    return false;
}

void route_credit(broker *b, conn *from, const bay__frame *f)
{
    char msg[300];
    call *k = served_by(b, from, f->id);
    if (k && !k->answered && k->input && !k->input_ended) { /* the provider takes more of the caller's input */
        if (!credit_fits(k, f->count, k->input_credit, msg, sizeof msg)) {
            stream_fails(b, k, BAY_EPROTO, k->current->owner, msg);
            return;
        }
        k->input_credit += f->count;
        conn *c = conn_get(b, k->origin);
        if (c) {
            bay__frame out = {.type = BAY_F_CREDIT, .id = k->origin_id, .count = f->count};
            conn_send(b, c, &out);
        }
        return;
    }
    if (k || (k = by_origin(from, f->id)) == NULL || !k->stream)
        return; /* late, or for a call that reads no stream: dropped */
    if (!credit_fits(k, f->count, k->window, msg, sizeof msg)) {
        stream_fails(b, k, BAY_EPROTO, NULL, msg);
        return;
    }
    k->window += f->count;
    conn *c = k->current ? conn_get(b, k->current_session) : NULL;
    if (c) {
        bay__frame out = {.type = BAY_F_CREDIT, .id = k->id, .count = f->count};
        conn_send(b, c, &out);
    }
}

void route_end(broker *b, conn *from, const bay__frame *f)
{
    call *k = by_origin(from, f->id);
    if (k == NULL)
        return; /* late: dropped */
    if (!k->input || k->input_ended) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s: the caller ended input %s", k->name,
                 k->input ? "twice" : "of a call it did not say takes input");
        stream_fails(b, k, BAY_EPROTO, NULL, msg);
        return;
    }
    k->input_ended = true;
    conn *c = k->current ? conn_get(b, k->current_session) : NULL;
    if (c) {
        bay__frame out = {.type = BAY_F_END, .id = k->id};
        conn_send(b, c, &out);
    }
}

/* cancel_current asks the current provider to stop, telling it why
 * (BAY_ECANCELED or BAY_ETIMEDOUT); the call waits for it (hang detection). */
static void cancel_current(broker *b, call *k, int64_t now, int why)
{
    k->abandoned_ms = now;
    conn *c = k->current ? conn_get(b, k->current_session) : NULL;
    if (c) {
        bay__frame f = {.type = BAY_F_CANCEL, .id = k->id, .code = why};
        conn_send(b, c, &f);
    }
}

void route_cancel(broker *b, conn *from, uint64_t origin_id)
{
    call *k = by_origin(from, origin_id);
    if (k == NULL)
        return;
    const char *owner = k->current ? k->current->owner : NULL;
    char msg[300];
    snprintf(msg, sizeof msg, "%s was cancelled by the caller", k->name);
    if (k->kind == BAY_EVENT && k->current)
        gather(k, owner, NULL, BAY_ECANCELED, msg);
    answer_error(b, k, BAY_ECANCELED, owner, msg);
    if (k->current)
        cancel_current(b, k, bay__now_ms(), BAY_ECANCELED);
    else
        call_free(b, k);
}

/* expire answers a call whose deadline passed and cancels its provider. */
static void expire(broker *b, call *k, int64_t now)
{
    const char *owner = k->current ? k->current->owner : k->held ? k->targets[k->next].owner : NULL;
    char msg[512];
    if (k->held)
        snprintf(msg, sizeof msg,
                 "%s was not called: the call waited its turn at %s past its deadline (the host's earlier calls "
                 "to it were still running while other callers' calls waited)",
                 k->name, owner);
    else
        snprintf(msg, sizeof msg, "%s did not answer %s before the call's deadline; it was cancelled",
                 owner ? owner : "-", k->name);
    if (k->kind == BAY_EVENT) {
        if (k->current)
            gather(k, owner, NULL, BAY_ETIMEDOUT, msg);
        for (; k->next < k->ntargets; k->next++)
            gather(k, k->targets[k->next].owner, NULL, BAY_ETIMEDOUT, "not called: the event's deadline passed first");
        finish_event(b, k);
    } else {
        answer_error(b, k, BAY_ETIMEDOUT, owner, msg);
    }
    if (k->current)
        cancel_current(b, k, now, BAY_ETIMEDOUT);
    else
        call_free(b, k);
}

/* hung kills a provider that kept running past its deadline and cancel by more than the grace. */
static void hung(broker *b, call *k)
{
    struct target *t = k->current;
    char why[512];
    snprintf(why, sizeof why, "hung: %s did not return within %d ms after its deadline or cancel", k->name,
             b->opt.hang_grace_ms);
    if (t->host) {
        bay__log(BAY_LOG_WARN, t->owner, "%s; forgetting the call", why);
        provider_done(b, k, BAY_ETIMEDOUT);
        call_free(b, k);
    } else {
        conn *c = conn_get(b, k->current_session);
        if (c)
            supervise_kill_worker(b, c, why);
    }
}

int64_t route_expire(broker *b, int64_t now)
{
    size_t n;
    call **all = snapshot(b, &n);
    int64_t next = 0;
    for (size_t i = 0; i < n; i++) {
        call *k = all[i];
        int64_t due = k->answered ? k->abandoned_ms + b->opt.hang_grace_ms : k->deadline_ms;
        if (now >= due) {
            if (k->answered)
                hung(b, k);
            else
                expire(b, k, now);
            continue;
        }
        if (next == 0 || due < next)
            next = due;
    }
    free(all);
    return next;
}

void route_fail_provider(broker *b, uint64_t session, plugin *p, int code, const char *why)
{
    size_t n;
    call **all = snapshot(b, &n);
    for (size_t i = 0; i < n; i++) {
        call *k = all[i];
        if (k->current == NULL || k->current_session != session)
            continue;
        char owner[128], msg[768];
        snprintf(owner, sizeof owner, "%s", k->current->owner);
        snprintf(msg, sizeof msg, "%s failed during %s: %s", owner, k->name, why);
        provider_done(b, k, code);
        if (k->answered) {
            call_free(b, k);
        } else if (k->kind == BAY_EVENT) {
            gather(k, owner, NULL, code, msg);
            send_next(b, k);
        } else {
            answer_error(b, k, code, owner, msg);
            call_free(b, k);
        }
    }
    free(all);
    if (p) {
        p->stats.inflight = 0;
        take_turns(b, p); /* they fail now, or go to its next worker */
    }
}

void route_host_gone(broker *b, conn *c)
{
    route_fail_origin(b, c->session);
    route_fail_provider(b, c->session, NULL, BAY_ECONN, "the host providing it disconnected");
}

void route_fail_origin(broker *b, uint64_t session)
{
    size_t n;
    call **all = snapshot(b, &n);
    for (size_t i = 0; i < n; i++) {
        call *k = all[i];
        if (k->origin != session || k->answered)
            continue;
        k->answered = true;
        if (k->current)
            cancel_current(b, k, bay__now_ms(), BAY_ECANCELED);
        else
            call_free(b, k);
    }
    free(all);
}

int route_init(broker *b)
{
    b->calls = calloc(1, sizeof *b->calls);
    if (b->calls && ((b->calls->byid = bay__idmap_new()) == NULL || (b->calls->shares = bay__shares_new()) == NULL)) {
        bay__idmap_free(b->calls->byid);
        free(b->calls);
        b->calls = NULL;
    }
    return b->calls ? 0 : BAY_ENOMEM;
}

size_t route_serving(broker *b, uint64_t session)
{
    size_t n, serving = 0;
    call **all = snapshot(b, &n);
    for (size_t i = 0; i < n; i++)
        serving += all[i]->current && all[i]->current_session == session;
    free(all);
    return serving;
}

size_t route_in_flight(const broker *b)
{
    return bay__idmap_count(b->calls->byid);
}

void route_free(broker *b)
{
    size_t n;
    call **all = snapshot(b, &n);
    for (size_t i = 0; i < n; i++) {
        all[i]->timer = NULL;
        call_free(b, all[i]);
    }
    free(all);
    bay__idmap_free(b->calls->byid);
    bay__shares_free(b->calls->shares);
    free(b->calls->held);
    free(b->calls);
    b->calls = NULL;
}

/* The most fast calls a worker's report may hold per second of the heartbeat
 * interval: far beyond what one worker's main thread can answer. */
#define FAST_CALLS_PER_SECOND 10000000

void route_fast_calls(broker *b, plugin *p, const bay__frame *f)
{
    int64_t seconds = b->opt.heartbeat_ms > 1000 ? (b->opt.heartbeat_ms + 999) / 1000 : 1;
    bay_value *report = NULL;
    bay__callstat s;
    bay_error e;
    int rc = f->value ? bay__value_from_object(f->value, &report, &e)
                      : bay_error_set(&e, BAY_EPROTO, NULL, "it has no value");
    if (rc == 0)
        rc = bay__callstat_from_value(report, (uint64_t)(FAST_CALLS_PER_SECOND * seconds), &s, &e);
    bay_value_free(report);
    if (rc)
        bay__log_limited(&p->stats.fast_log, bay__now_ms(), BAY_LOG_WARN, p->id,
                         "ignored a malformed report of the calls its worker answered on fast channels: %s", e.message);
    else
        bay__callstat_merge(&p->stats.total, &s);
}
