/* broker/registry.h — the one extension-point registry: declarations and providers in load order. */
#ifndef BAY_REGISTRY_H
#define BAY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <plugbay/error.h>

#include "schema.h"

/* A provider of one extension point: a loaded plugin or a connected host. */
typedef struct bay__provider {
    void *owner;           /* the broker's plugin or host connection (not owned) */
    char *owner_name;      /* "example/hello" or "host:NAME" */
    int64_t rank;          /* load order: lower ranks are called first */
    char **contexts;       /* NULL-terminated, or NULL = every context */
} bay__provider;

typedef struct bay__extpoint {
    char *name;
    int kind;                 /* BAY_HANDLE, BAY_EVENT or BAY_FILTER */
    char *declared_by;        /* who declared it first ("host:app", or the first provider) */
    bay__provider **providers; /* sorted by rank */
    size_t nproviders, cap;
    uint64_t calls;           /* CALLs and EVENTs of hosts and plugins routed to it (bay__registry_route) */
    uint64_t unserved;        /* of those, calls of a handle refused for want of a provider (BAY_ENOPROVIDER) */
    json_t *types;            /* its declared shape {"args", "result", "input": SCHEMA}, or NULL: untyped */
    char *typed_by;           /* who declared types ("host:app" or a plugin), or NULL */
    bay__types parsed;        /* types parsed */
} bay__extpoint;

typedef struct bay__registry bay__registry;

/* bay__registry_new returns an empty registry, or NULL when out of memory. */
bay__registry *bay__registry_new(void);

/* bay__registry_free frees the registry and every declaration and provider. */
void bay__registry_free(bay__registry *r);

/* bay__registry_declare declares name with kind on behalf of by. Declaring
 * again with the same kind succeeds; another kind is BAY_EKIND with a message
 * in err (NULL allowed) naming both declarations; a kind that is not
 * BAY_HANDLE, BAY_EVENT or BAY_FILTER is BAY_EINVAL; BAY_ENOMEM. */
int bay__registry_declare(bay__registry *r, const char *name, int kind, const char *by, bay_error *err);

/* bay__registry_type declares name with kind as bay__registry_declare does
 * and gives it the shape types ({"args", "result", "input": SCHEMA}, each
 * may be absent; docs/types.md) on behalf of by. An untyped extension point
 * takes it; a typed one must have the same (BAY_ETYPE naming both declarers
 * and where they differ), unless by declared its types and no one else
 * provides it, which then takes the new ones; a shape that does not parse, or
 * "input" for another kind than a handle, is BAY_EINVAL naming name. */
int bay__registry_type(bay__registry *r, const char *name, int kind, const json_t *types, const char *by,
                       bay_error *err);

/* bay__registry_add adds owner as a provider of name (declaring it with kind
 * when undeclared, as bay__registry_declare does). contexts (NULL-terminated
 * or NULL) is copied. Returns 0, the errors of bay__registry_declare, or
 * BAY_EEXIST when owner already provides it, each with its message in err
 * (NULL allowed). */
int bay__registry_add(bay__registry *r, const char *name, int kind, void *owner, const char *owner_name, int64_t rank,
                     const char *const *contexts, bay_error *err);

/* bay__registry_remove removes owner's provider of name; returns BAY_ENOENT when there is none. */
int bay__registry_remove(bay__registry *r, const char *name, void *owner);

/* bay__registry_remove_owner removes every provider owned by owner and, for
 * each, calls fn(name, user) when fn is not NULL. Returns how many it removed. */
size_t bay__registry_remove_owner(bay__registry *r, void *owner, void (*fn)(const char *name, void *user), void *user);

/* bay__registry_rerank gives every provider owner has the rank rank, moving
 * each to its place in load order, and calls fn(name, user) (when fn is not
 * NULL) for each extension point whose order of providers changed. Returns
 * how many changed. */
size_t bay__registry_rerank(bay__registry *r, void *owner, int64_t rank, void (*fn)(const char *name, void *user),
                            void *user);

/* bay__registry_find returns the extension point called name, or NULL. Borrowed. */
bay__extpoint *bay__registry_find(const bay__registry *r, const char *name);

/* bay__registry_route returns the extension point called name, as
 * bay__registry_find does, for a host's or a plugin's CALL or EVENT with
 * context ctx (NULL: any), and counts it: in its calls, and in its unserved
 * too when it is a handle no provider accepting ctx serves; a name not
 * declared counts in bay__registry_unknown. Borrowed, or NULL. */
bay__extpoint *bay__registry_route(bay__registry *r, const char *name, const char *ctx);

/* bay__registry_unknown returns how many calls and events bay__registry_route was asked for a name not declared. */
uint64_t bay__registry_unknown(const bay__registry *r);

/* bay__registry_count returns how many extension points are declared; bay__registry_at returns the i-th, by name. */
size_t bay__registry_count(const bay__registry *r);
bay__extpoint *bay__registry_at(const bay__registry *r, size_t i);

/* bay__provider_accepts returns true when p takes calls with context ctx (NULL ctx: every provider does). */
bool bay__provider_accepts(const bay__provider *p, const char *ctx);

/* bay__registry_select writes to out (room for max) the providers of e that
 * accept ctx, in load order: all of them for an event, the first for a handle.
 * Returns how many it wrote. */
size_t bay__registry_select(const bay__extpoint *e, const char *ctx, bay__provider **out, size_t max);

#endif
