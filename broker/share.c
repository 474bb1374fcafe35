/* broker/share.c — fair shares: how many calls each connection has in flight, or waiting, at each provider. */
#include "share.h"

#include <stdlib.h>

#include <plugbay/error.h>

#include "idmap.h"

/* One connection's counts: a short list, since a host calls few providers at once. */
typedef struct counts {
    size_t n, cap;
    struct count {
        const void *provider;
        unsigned calls[2]; /* by bay__share_kind */
    } *v;
} counts;

struct bay__shares {
    bay__idmap *by_session; /* session -> counts */
};

bay__shares *bay__shares_new(void)
{
    bay__shares *s = calloc(1, sizeof *s);
    if (s && (s->by_session = bay__idmap_new()) == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void bay__shares_free(bay__shares *s)
{
    if (s == NULL)
        return;
    size_t n = bay__idmap_count(s->by_session);
    counts **all = malloc((n ? n : 1) * sizeof *all);
    n = all ? bay__idmap_values(s->by_session, (void **)all, n) : 0;
    for (size_t i = 0; i < n; i++) {
        free(all[i]->v);
        free(all[i]);
    }
    free(all);
    bay__idmap_free(s->by_session);
    free(s);
}

static struct count *find(const counts *c, const void *provider)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (c->v[i].provider == provider)
            return &c->v[i];
    return NULL;
}

int bay__shares_add(bay__shares *s, uint64_t session, const void *provider, bay__share_kind kind, int delta)
{
    counts *c = bay__idmap_get(s->by_session, session);
    struct count *k = find(c, provider);
    if (delta < 0) {
        if (k == NULL || k->calls[kind] == 0)
            return 0;
        if (--k->calls[kind] == 0 && k->calls[!kind] == 0) { /* forget it, and the connection once it has no calls */
            *k = c->v[--c->n];
            if (c->n == 0) {
                bay__idmap_del(s->by_session, session);
                free(c->v);
                free(c);
            }
        }
        return 0;
    }
    if (k) {
        k->calls[kind]++;
        return 0;
    }
    bool made = c == NULL;
    if (made && ((c = calloc(1, sizeof *c)) == NULL || bay__idmap_put(s->by_session, session, c) != 0)) {
        free(c);
        return BAY_ENOMEM;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        struct count *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            if (made) {
                bay__idmap_del(s->by_session, session);
                free(c);
            }
            return BAY_ENOMEM;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n] = (struct count){provider, {0, 0}};
    c->v[c->n++].calls[kind] = 1;
    return 0;
}

unsigned bay__shares_count(const bay__shares *s, uint64_t session, const void *provider, bay__share_kind kind)
{
    const struct count *k = find(bay__idmap_get(s->by_session, session), provider);
    return k ? k->calls[kind] : 0;
}

void bay__share_called(bay__share_callers *c, uint64_t session, int64_t now_ms)
{
    if (c->session[0] != session) { /* the other one moves down; a third host pushes the older out */
        c->session[1] = c->session[0];
        c->at_ms[1] = c->at_ms[0];
        c->session[0] = session;
    }
    c->at_ms[0] = now_ms;
}

bool bay__share_shared(const bay__share_callers *c, uint64_t session, int64_t now_ms)
{
    for (int i = 0; i < 2; i++)
        if (c->session[i] != 0 && c->session[i] != session && now_ms - c->at_ms[i] < BAY_SHARE_WINDOW_MS)
            return true;
    return false;
}

bool bay__share_must_wait(unsigned mine, unsigned in_flight, unsigned workers, bool shared, bool serving)
{
    return !serving && mine >= BAY_SHARE_CALLS * workers && (shared || in_flight > mine);
}
