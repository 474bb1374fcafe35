/* broker/order.c — the load order of plugins by their dependencies, and the cycles that leave some without one. */
#include "order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugbay/error.h"

/* find returns the index of the item named id, or n. */
static size_t find(const order_item *items, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].id, id) == 0)
            return i;
    return n;
}

/* describe writes into start's cycle the path "a -> b -> a" that follows,
 * from start, the first dependency still left each time, up to the first
 * item it comes to twice (start lies in the cycle, or behind it). seen has
 * room for n flags. */
static void describe(order_item *items, size_t n, size_t start, const bool *left, bool *seen)
{
    char *out = items[start].cycle;
    size_t len = sizeof items[start].cycle;
    size_t used = (size_t)snprintf(out, len, "dependency cycle: %s", items[start].id);
    memset(seen, 0, n * sizeof *seen);
    for (size_t at = start; !seen[at] && used < len;) {
        seen[at] = true;
        size_t next = n;
        for (size_t j = 0; j < items[at].ndeps && next == n; j++) {
            size_t d = find(items, n, items[at].deps[j].id);
            if (d < n && left[d])
                next = d;
        }
        if (next == n)
            return;
        used += (size_t)snprintf(out + used, len - used, " -> %s", items[next].id);
        at = next;
    }
}

/* preferred writes to pref the indexes of the n items by place, lower
 * first, those of one place in the order given (an insertion sort: stable). */
static void preferred(const order_item *items, size_t n, size_t *pref)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = i;
        while (at > 0 && items[pref[at - 1]].place > items[i].place) {
            pref[at] = pref[at - 1];
            at--;
        }
        pref[at] = i;
    }
}

int order_plugins(order_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        items[i].rank = i;
        items[i].cyclic = false;
        items[i].cycle[0] = '\0';
    }
    bool *left = calloc(n ? 2 * n : 1, sizeof *left);
    size_t *pref = calloc(n ? n : 1, sizeof *pref);
    if (left == NULL || pref == NULL) {
        free(left);
        free(pref);
        return BAY_ENOMEM;
    }
    bool *seen = left + n; /* describe's */
    for (size_t i = 0; i < n; i++)
        left[i] = true;
    preferred(items, n, pref);
    /* Repeatedly place the first item (in the preferred order) whose dependencies are all placed. */
    size_t placed = 0;
    for (bool progress = true; progress && placed < n;) {
        progress = false;
        for (size_t k = 0; k < n && !progress; k++) {
            size_t i = pref[k];
            bool ready = left[i];
            for (size_t j = 0; ready && j < items[i].ndeps; j++) {
                size_t d = find(items, n, items[i].deps[j].id);
                ready = d == n || !left[d];
            }
            if (ready) {
                left[i] = false;
                items[i].rank = placed++;
                progress = true;
            }
        }
    }
    for (size_t i = 0; i < n; i++) /* what is left is in or behind a cycle */
        if (left[i]) {
            items[i].cyclic = true;
            describe(items, n, i, left, seen);
        }
    for (size_t k = 0; k < n; k++)
        if (left[pref[k]])
            items[pref[k]].rank = placed++;
    free(left);
    free(pref);
    return 0;
}
