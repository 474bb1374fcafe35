/* broker/update.h — another version of an installed plugin, from a package, and back: folders swapped, versions kept, a version that fails rolled back.
 *
 * The version a plugin runs is its folder PLUGINS/ID; the versions it ran
 * before are kept in PLUGINS/.versions/ID/VERSION (hidden: no scan takes
 * them). An update places the package's folder at PLUGINS/ID, the old one
 * among the kept, and reloads the plugin as `reload` does: the new version
 * starts beside the old, which serves until the new one loaded. When the new
 * worker fails to load, the folders are swapped back (the failed version is
 * removed) and the old version serves on. A rollback is the same swap
 * towards the newest kept version older than the one running. */
#ifndef BAY_UPDATE_H
#define BAY_UPDATE_H

#include "broker.h"

/* update_place unpacks the package received whole with the sha256 of args
 * (incoming.h) and, when it is another version of an installed plugin,
 * swaps it in: 0 with *p that plugin (still running the version it ran), or
 * the step's code with err and nothing changed (BAY_ESTATE: not installed;
 * BAY_EEXIST: that version runs already; BAY_EBUSY: its new worker is starting
 * or another version is being swapped in). */
int update_place(broker *b, const bay_value *args, plugin **p, bay_error *err);

/* update_rollback swaps in the newest version of p kept older than the one
 * it runs (else the newest kept): 0, or BAY_ENOENT (none kept), BAY_EBUSY or
 * BAY_EIO with err and nothing changed. */
int update_rollback(broker *b, plugin *p, bay_error *err);

/* update_reload reloads p after update_place or update_rollback swapped its
 * folder; when the reload is refused at once, the folders are swapped back
 * and err says so. While the version before finishes its calls the reload
 * waits its turn (update_reloaded ends the swap). Returns lifecycle_reload's
 * code. */
int update_reload(broker *b, plugin *p, bay_error *err);

/* update_reloaded is lifecycle.c's b->reloaded listener: a reload of p ended,
 * its new worker serving (ok) or gone before it loaded (why). A failed update
 * or rollback is swapped back. */
void update_reloaded(broker *b, plugin *p, bool ok, const char *why);

/* update_forget removes the versions of plugin id kept in PLUGINS/.versions
 * (it was uninstalled), and the folders that leaves empty. */
void update_forget(broker *b, const char *id);

/* update_free forgets the updates under way (at shutdown). */
void update_free(broker *b);

#endif
