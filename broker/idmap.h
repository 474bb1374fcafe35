/* broker/idmap.h — a map from 64-bit ids to pointers (calls, connections). */
#ifndef BAY_IDMAP_H
#define BAY_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bay_idmap bay_idmap;

/* bay_idmap_new returns an empty map, or NULL when out of memory. */
bay_idmap *bay_idmap_new(void);

/* bay_idmap_free frees the map (not the values). */
void bay_idmap_free(bay_idmap *m);

/* bay_idmap_put maps id (non-zero) to val (non-NULL), replacing an earlier value. Returns 0 or BAY_ENOMEM. */
int bay_idmap_put(bay_idmap *m, uint64_t id, void *val);

/* bay_idmap_get returns the value of id, or NULL. */
void *bay_idmap_get(const bay_idmap *m, uint64_t id);

/* bay_idmap_del removes id and returns its value, or NULL when absent. */
void *bay_idmap_del(bay_idmap *m, uint64_t id);

/* bay_idmap_count returns how many ids are mapped. */
size_t bay_idmap_count(const bay_idmap *m);

/* bay_idmap_values copies up to max values into out (any order) and returns how
 * many; a snapshot, so the caller may delete while walking it. */
size_t bay_idmap_values(const bay_idmap *m, void **out, size_t max);

#endif
