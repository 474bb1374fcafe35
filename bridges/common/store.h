/* bridges/common/store.h — the plugin's storage as the worker's hooks use it; not for bridges. */
#ifndef BAY_WORKER_STORE_H
#define BAY_WORKER_STORE_H

#include <stdbool.h>

#include <plugbay/error.h>

/* bay__store_begin starts the transaction a hook runs in (on_install,
 * on_update): every storage call until bay__store_end is part of it.
 * Returns 0, or a code with err. */
int bay__store_begin(bay_error *err);

/* bay__store_end commits (commit true) or rolls back what the hook wrote.
 * Returns 0, or a code with err (a commit that failed was rolled back). */
int bay__store_end(bool commit, bay_error *err);

/* bay__store_close closes the database, if it was opened (at unload). */
void bay__store_close(void);

#endif
