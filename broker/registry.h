/* broker/registry.h — the one extension-point registry: declarations and providers in load order. */
#ifndef BAY_REGISTRY_H
#define BAY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A provider of one extension point: a loaded plugin or a connected host. */
typedef struct bay_provider {
    void *owner;           /* the broker's plugin or host connection (not owned) */
    char *owner_name;      /* "example/hello" or "host:NAME" */
    int64_t rank;          /* load order: lower ranks are called first */
    char **contexts;       /* NULL-terminated, or NULL = every context */
} bay_provider;

typedef struct bay_extpoint {
    char *name;
    int kind;                 /* BAY_HANDLE or BAY_EVENT */
    char *declared_by;        /* who declared it first ("host:app", or the first provider) */
    bay_provider **providers; /* sorted by rank */
    size_t nproviders, cap;
} bay_extpoint;

typedef struct bay_registry bay_registry;

/* bay_registry_new returns an empty registry, or NULL when out of memory. */
bay_registry *bay_registry_new(void);

/* bay_registry_free frees the registry and every declaration and provider. */
void bay_registry_free(bay_registry *r);

/* bay_registry_declare declares name with kind on behalf of by. Declaring
 * again with the same kind succeeds; another kind is BAY_EKIND with a message
 * in err naming both declarations. */
int bay_registry_declare(bay_registry *r, const char *name, int kind, const char *by, char *err, size_t errlen);

/* bay_registry_add adds owner as a provider of name (declaring it with kind
 * when undeclared). contexts (NULL-terminated or NULL) is copied. Returns
 * BAY_EKIND when name is declared with another kind, BAY_EEXIST when owner
 * already provides it. */
int bay_registry_add(bay_registry *r, const char *name, int kind, void *owner, const char *owner_name, int64_t rank,
                     const char *const *contexts, char *err, size_t errlen);

/* bay_registry_remove removes owner's provider of name; returns BAY_ENOENT when there is none. */
int bay_registry_remove(bay_registry *r, const char *name, void *owner);

/* bay_registry_remove_owner removes every provider owned by owner and, for
 * each, calls fn(name, user) when fn is not NULL. Returns how many it removed. */
size_t bay_registry_remove_owner(bay_registry *r, void *owner, void (*fn)(const char *name, void *user), void *user);

/* bay_registry_find returns the extension point called name, or NULL. Borrowed. */
bay_extpoint *bay_registry_find(const bay_registry *r, const char *name);

/* bay_registry_count returns how many extension points are declared; bay_registry_at returns the i-th, by name. */
size_t bay_registry_count(const bay_registry *r);
bay_extpoint *bay_registry_at(const bay_registry *r, size_t i);

/* bay_provider_accepts returns true when p takes calls with context ctx (NULL ctx: every provider does). */
bool bay_provider_accepts(const bay_provider *p, const char *ctx);

/* bay_registry_select writes to out (room for max) the providers of e that
 * accept ctx, in load order: all of them for an event, the first for a handle.
 * Returns how many it wrote. */
size_t bay_registry_select(const bay_extpoint *e, const char *ctx, bay_provider **out, size_t max);

#endif
