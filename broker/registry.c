/* broker/registry.c — the one extension-point registry: declarations and providers in load order. */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include <plugbay/error.h>
#include <plugbay/plugbay.h>

#include "frame.h"
#include "manifest.h"

struct bay__registry {
    bay__extpoint **eps; /* sorted by name for lookup by bsearch */
    size_t n, cap;
    uint64_t unknown;    /* calls and events routed to a name not declared */
};

bay__registry *bay__registry_new(void)
{
    return calloc(1, sizeof(bay__registry));
}

static void provider_free(bay__provider *p)
{
    free(p->owner_name);
    bay__strv_free(p->contexts);
    free(p);
}

static void extpoint_free(bay__extpoint *e)
{
    for (size_t i = 0; i < e->nproviders; i++)
        provider_free(e->providers[i]);
    free(e->providers);
    free(e->name);
    free(e->declared_by);
    json_decref(e->types);
    free(e->typed_by);
    bay__types_free(&e->parsed);
    free(e);
}

void bay__registry_free(bay__registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        extpoint_free(r->eps[i]);
    free(r->eps);
    free(r);
}

/* position returns the index of name, or where it would be inserted (*found false). */
static size_t position(const bay__registry *r, const char *name, bool *found)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->eps[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

bay__extpoint *bay__registry_find(const bay__registry *r, const char *name)
{
    bool found;
    size_t i = position(r, name, &found);
    return found ? r->eps[i] : NULL;
}

bay__extpoint *bay__registry_route(bay__registry *r, const char *name, const char *ctx)
{
    bay__extpoint *e = bay__registry_find(r, name);
    bay__provider *first;
    if (e == NULL) {
        r->unknown++;
        return NULL;
    }
    e->calls++;
    if (e->kind == BAY_HANDLE && bay__registry_select(e, ctx, &first, 1) == 0)
        e->unserved++;
    return e;
}

uint64_t bay__registry_unknown(const bay__registry *r)
{
    return r->unknown;
}

size_t bay__registry_count(const bay__registry *r)
{
    return r->n;
}

bay__extpoint *bay__registry_at(const bay__registry *r, size_t i)
{
    return i < r->n ? r->eps[i] : NULL;
}

/* grow makes room for one more pointer in *v (count n, capacity *cap). */
static int grow(void *v, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*(void **)v, ncap * sizeof(void *));
    if (p == NULL)
        return BAY_ENOMEM;
    *(void **)v = p;
    *cap = ncap;
    return 0;
}

/* declare finds or creates name; *out is the extension point. */
static int declare(bay__registry *r, const char *name, int kind, const char *by, bay__extpoint **out,
                   bay_error *err)
{
    bool found;
    size_t i = position(r, name, &found);
    if (found) {
        *out = r->eps[i];
        if (r->eps[i]->kind == kind)
            return 0;
        return bay_error_set(err, BAY_EKIND, NULL, "%s declares \"%s\" as %s, but %s declared it as %s", by, name,
                             bay__kind_name(kind), r->eps[i]->declared_by, bay__kind_name(r->eps[i]->kind));
    }
    if (!bay__kind_valid(kind))
        return bay_error_set(err, BAY_EINVAL, NULL, "kind of \"%s\" must be handle, event or filter", name);
    bay__extpoint *e = calloc(1, sizeof *e);
    if (e == NULL || grow(&r->eps, r->n, &r->cap) || !(e->name = strdup(name)) || !(e->declared_by = strdup(by))) {
        if (e)
            extpoint_free(e);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    e->kind = kind;
    memmove(&r->eps[i + 1], &r->eps[i], (r->n - i) * sizeof(bay__extpoint *));
    r->eps[i] = e;
    r->n++;
    *out = e;
    return 0;
}

int bay__registry_declare(bay__registry *r, const char *name, int kind, const char *by, bay_error *err)
{
    bay__extpoint *e;
    return declare(r, name, kind, by, &e, err);
}

/* own_types tells whether by, which declared e's types, may declare them anew: no other provider has e (a
 * plugin changing its types at a reload or an update, which its old worker's provides do not hold back). */
static bool own_types(const bay__extpoint *e, const char *by)
{
    if (strcmp(e->typed_by, by) != 0)
        return false;
    for (size_t i = 0; i < e->nproviders; i++)
        if (strcmp(e->providers[i]->owner_name, by) != 0)
            return false;
    return true;
}

int bay__registry_type(bay__registry *r, const char *name, int kind, const json_t *types, const char *by,
                       bay_error *err)
{
    bay__extpoint *e;
    int rc = declare(r, name, kind, by, &e, err);
    if (rc)
        return rc;
    char where[300];
    if (e->types && bay__schema_same(types, e->types, where, sizeof where))
        return 0;
    if (e->types && !own_types(e, by))
        return bay_error_set(err, BAY_ETYPE, NULL, "%s declares the types of \"%s\" otherwise than %s did: at %s (its "
                             "own against theirs; docs/types.md)", by, name, e->typed_by, where);
    bay__types parsed;
    bay_error why;
    if ((rc = bay__types_parse(types, kind, &parsed, &why)) != 0)
        return bay_error_set(err, rc, NULL, "\"%s\": %s", name, why.message);
    json_t *copy = json_deep_copy(types);
    char *typed_by = strdup(by);
    if (copy == NULL || typed_by == NULL) {
        json_decref(copy);
        free(typed_by);
        bay__types_free(&parsed);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    json_decref(e->types);
    free(e->typed_by);
    bay__types_free(&e->parsed);
    e->types = copy;
    e->typed_by = typed_by;
    e->parsed = parsed;
    return 0;
}

/* place inserts p into e's providers (which have room for it) after those of a rank not above its own;
 * returns where. */
static size_t place(bay__extpoint *e, bay__provider *p)
{
    size_t at = e->nproviders;
    while (at > 0 && e->providers[at - 1]->rank > p->rank)
        at--;
    memmove(&e->providers[at + 1], &e->providers[at], (e->nproviders - at) * sizeof(bay__provider *));
    e->providers[at] = p;
    e->nproviders++;
    return at;
}

static ptrdiff_t find_owner(const bay__extpoint *e, const void *owner)
{
    for (size_t i = 0; i < e->nproviders; i++)
        if (e->providers[i]->owner == owner)
            return (ptrdiff_t)i;
    return -1;
}

int bay__registry_add(bay__registry *r, const char *name, int kind, void *owner, const char *owner_name, int64_t rank,
                     const char *const *contexts, bay_error *err)
{
    bay__extpoint *e;
    int rc = declare(r, name, kind, owner_name, &e, err);
    if (rc)
        return rc;
    if (find_owner(e, owner) >= 0)
        return bay_error_set(err, BAY_EEXIST, NULL, "%s already provides \"%s\"", owner_name, name);
    bay__provider *p = calloc(1, sizeof *p);
    if (p == NULL || grow(&e->providers, e->nproviders, &e->cap) || !(p->owner_name = strdup(owner_name)) ||
        (contexts && !(p->contexts = bay__strv_copy(contexts)))) {
        if (p)
            provider_free(p);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    p->owner = owner;
    p->rank = rank;
    place(e, p);
    return 0;
}

static void remove_at(bay__extpoint *e, size_t i)
{
    provider_free(e->providers[i]);
    memmove(&e->providers[i], &e->providers[i + 1], (e->nproviders - i - 1) * sizeof(bay__provider *));
    e->nproviders--;
}

int bay__registry_remove(bay__registry *r, const char *name, void *owner)
{
    bay__extpoint *e = bay__registry_find(r, name);
    ptrdiff_t i = e ? find_owner(e, owner) : -1;
    if (i < 0)
        return BAY_ENOENT;
    remove_at(e, (size_t)i);
    return 0;
}

size_t bay__registry_remove_owner(bay__registry *r, void *owner, void (*fn)(const char *name, void *user), void *user)
{
    size_t removed = 0;
    for (size_t k = 0; k < r->n; k++) {
        ptrdiff_t i = find_owner(r->eps[k], owner);
        if (i < 0)
            continue;
        remove_at(r->eps[k], (size_t)i);
        removed++;
        if (fn)
            fn(r->eps[k]->name, user);
    }
    return removed;
}

size_t bay__registry_rerank(bay__registry *r, void *owner, int64_t rank, void (*fn)(const char *name, void *user),
                            void *user)
{
    size_t changed = 0;
    for (size_t k = 0; k < r->n; k++) {
        bay__extpoint *e = r->eps[k];
        ptrdiff_t i = find_owner(e, owner);
        if (i < 0 || e->providers[i]->rank == rank)
            continue;
        bay__provider *p = e->providers[i];
        memmove(&e->providers[i], &e->providers[i + 1], (e->nproviders - (size_t)i - 1) * sizeof(bay__provider *));
        e->nproviders--;
        p->rank = rank;
        if (place(e, p) != (size_t)i) {
            changed++;
            if (fn)
                fn(e->name, user);
        }
    }
    return changed;
}

bool bay__provider_accepts(const bay__provider *p, const char *ctx)
{
    if (ctx == NULL || p->contexts == NULL)
        return true;
    for (char **c = p->contexts; *c; c++)
        if (strcmp(*c, ctx) == 0)
            return true;
    return false;
}

size_t bay__registry_select(const bay__extpoint *e, const char *ctx, bay__provider **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nproviders && n < max; i++) {
        if (!bay__provider_accepts(e->providers[i], ctx))
            continue;
        out[n++] = e->providers[i];
        if (e->kind == BAY_HANDLE)
            break;
    }
    return n;
}
