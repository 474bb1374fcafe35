/* broker/depends.h — dependencies between loaded plugins: readiness and who is in use. */
#ifndef BAY_DEPENDS_H
#define BAY_DEPENDS_H

#include "broker.h"

/* depends_host_check returns BAY_EVERSION (with err) when p does not work with this plugbay. */
int depends_host_check(broker *b, plugin *p, bay_error *err);
/* depends_ready returns 0 when the dependencies of p with manifest m (p's
 * own, or the one a reload read) are loaded, BAY_EPENDING (err says what it
 * waits for) when they are on their way — calling load_first for each
 * stopped one, to be loaded first — or another code with err naming both
 * sides of the problem. */
int depends_ready(broker *b, plugin *p, const bay__manifest *m, void (*load_first)(broker *b, plugin *dep),
                  bay_error *err);
/* depends_users writes the ids of running plugins that depend on p into out
 * (", "-separated) and returns how many there are. */
size_t depends_users(broker *b, const plugin *p, char *out, size_t len);

#endif
