/* broker/idmap.c — open-addressing hash map from 64-bit ids to pointers.
 * Hand-written: none of plugbay's dependencies offers a hash map to C code. */
#include "idmap.h"

#include <stdlib.h>

#include <plugbay/error.h>

struct slot {
    uint64_t id; /* 0 = empty */
    void *val;
};

struct bay__idmap {
    struct slot *slots;
    size_t cap, n; /* cap is a power of two */
};

bay__idmap *bay__idmap_new(void)
{
    bay__idmap *m = calloc(1, sizeof *m);
    if (m && !(m->slots = calloc(m->cap = 16, sizeof(struct slot)))) {
        free(m);
        return NULL;
    }
    return m;
}

void bay__idmap_free(bay__idmap *m)
{
    if (m) {
        free(m->slots);
        free(m);
    }
}

static size_t home(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL; /* a 64-bit finalizer mix spreads sequential ids */
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

static size_t find(const bay__idmap *m, uint64_t id)
{
    size_t i = home(id, m->cap);
    while (m->slots[i].id != 0 && m->slots[i].id != id)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int resize(bay__idmap *m, size_t cap)
{
    struct slot *old = m->slots;
    size_t oldcap = m->cap;
    if (!(m->slots = calloc(cap, sizeof(struct slot)))) {
        m->slots = old;
        return BAY_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id)
            m->slots[find(m, old[i].id)] = old[i];
    free(old);
    return 0;
}

int bay__idmap_put(bay__idmap *m, uint64_t id, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && resize(m, m->cap * 2))
        return BAY_ENOMEM;
    size_t i = find(m, id);
    if (m->slots[i].id == 0)
        m->n++;
    m->slots[i] = (struct slot){id, val};
    return 0;
}

void *bay__idmap_get(const bay__idmap *m, uint64_t id)
{
    return id ? m->slots[find(m, id)].val : NULL;
}

void *bay__idmap_del(bay__idmap *m, uint64_t id)
{
    size_t i = find(m, id);
    if (id == 0 || m->slots[i].id == 0)
        return NULL;
    void *val = m->slots[i].val;
    m->slots[i] = (struct slot){0, NULL};
    m->n--;
    /* Re-place the rest of the probe run so lookups never stop at the hole. */
    for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].id; j = (j + 1) & (m->cap - 1)) {
        struct slot s = m->slots[j];
        m->slots[j] = (struct slot){0, NULL};
        m->slots[find(m, s.id)] = s;
    }
    return val;
}

size_t bay__idmap_count(const bay__idmap *m)
{
    return m->n;
}

size_t bay__idmap_values(const bay__idmap *m, void **out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < m->cap && k < max; i++)
        if (m->slots[i].id)
            out[k++] = m->slots[i].val;
    return k;
}
