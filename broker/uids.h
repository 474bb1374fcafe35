/* broker/uids.h — a uid of its own for each plugin's worker (plugbayd as root, --plugin-uids FIRST-LAST).
 *
 * A plugin's uid is the owner of its data folder: kept while it is in the
 * range and no other plugin's, else the first free one from a hash of the
 * plugin's id. Its gid is the same number. The worker runs as that uid
 * (launch.h), its data folder, worker socket and wasm compile cache belong to
 * it, and the state folder's folders above them may be passed through
 * (0711), not read. */
#ifndef BAY_UIDS_H
#define BAY_UIDS_H

#include <sys/types.h>

#include "broker.h"

/* uids_parse reads "FIRST-LAST" into *first and *count: 0, or -1 when text is
 * no range of uids above 0 and below 2^32-1, FIRST not above LAST. */
int uids_parse(const char *text, uid_t *first, uint32_t *count);

/* uids_init checks --plugin-uids, which needs plugbayd to run as root, and
 * opens the state, data and run folders to be passed through (0711).
 * Returns 0, or BAY_EPERM or BAY_EIO with err set. */
int uids_init(broker *b, bay_error *err);

/* uids_give checks that any uid may read the folder of m, p's manifest, its
 * entry file and pass through the folders above them,
 * picks p's uid (0 when plugbayd gives none) into *uid and gives it p's data
 * folder data, with everything in it, the worker's socket file sock
 * (NULL: none) and a wasm compile cache of its own, whose path it writes to
 * cache (len bytes; "" when none). Returns 0, or BAY_EPERM (they are closed
 * to others) or BAY_EIO with err set. */
int uids_give(broker *b, const plugin *p, const bay__manifest *m, const char *data, const char *sock, char *cache, size_t len,
              uid_t *uid, bay_error *err);

#endif
