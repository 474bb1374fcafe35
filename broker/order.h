/* broker/order.h — the load order of plugins by their dependencies, and the
 * cycles that leave some without one. A decision of the broker's core: it
 * reads manifests' dependency lists and touches no broker state. */
#ifndef BAY_ORDER_H
#define BAY_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

/* One plugin to place: given its id and dependencies, it gets its rank. */
typedef struct order_item {
    const char *id;
    const bay__dep_decl *deps; /* its manifest's (NULL when it has none or no valid manifest) */
    size_t ndeps;
    int64_t place;    /* where it would rather come, lower first: an operator's or its manifest's "order" */
    size_t rank;      /* out: its place in load order, 0 first */
    bool cyclic;      /* out: in a dependency cycle or behind one; placed last */
    char cycle[512];  /* out: when cyclic, "dependency cycle: a -> b -> a" */
} order_item;

/* order_plugins ranks the n items. Their preferred order is by place, lower
 * first, and those of one place in the order given (the broker gives them by
 * id). Each comes after every dependency among the items (a dependency that
 * is not among them does not hold it back) whatever the places say,
 * otherwise as early as the preferred order allows. Items in or behind a
 * cycle are marked cyclic, described and ranked last, in the preferred
 * order. Returns 0, or BAY_ENOMEM (ranks then keep the order given). */
int order_plugins(order_item *items, size_t n);

#endif
