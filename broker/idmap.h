/* broker/idmap.h — a map from 64-bit ids to pointers (calls, connections). */
#ifndef BAY_IDMAP_H
#define BAY_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bay__idmap bay__idmap;

/* bay__idmap_new returns an empty map, or NULL when out of memory. */
bay__idmap *bay__idmap_new(void);

/* bay__idmap_free frees the map (not the values). */
void bay__idmap_free(bay__idmap *m);

/* bay__idmap_put maps id (non-zero) to val (non-NULL), replacing an earlier value. Returns 0 or BAY_ENOMEM. */
int bay__idmap_put(bay__idmap *m, uint64_t id, void *val);

/* bay__idmap_get returns the value of id, or NULL. */
void *bay__idmap_get(const bay__idmap *m, uint64_t id);

/* bay__idmap_del removes id and returns its value, or NULL when absent. */
void *bay__idmap_del(bay__idmap *m, uint64_t id);

/* bay__idmap_count returns how many ids are mapped. */
size_t bay__idmap_count(const bay__idmap *m);

/* bay__idmap_values copies up to max values into out (any order) and returns how
 * many; a snapshot, so the caller may delete while walking it. */
size_t bay__idmap_values(const bay__idmap *m, void **out, size_t max);

#endif
