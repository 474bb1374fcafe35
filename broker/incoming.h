/* broker/incoming.h — packages an admin sends plugbayd: received in parts, checked, unpacked into the plugins folder.
 *
 * A package is sent as `package.put` parts ({"sha256", "size", "offset",
 * "data"}) into STATE/incoming/SHA256.part, which becomes SHA256.bayplug once
 * whole and its SHA-256 is the one announced. `install.package` then places
 * it: unpacked with every check (package.h) into a hidden folder of the
 * plugins folder, its signature checked under plugbayd's policy there, then
 * renamed to PLUGINS/ID and found by a rescan. Files left over (an upload
 * given up) go after an hour, or at plugbayd's next start. */
#ifndef BAY_INCOMING_H
#define BAY_INCOMING_H

#include "broker.h"
#include "manifest.h"

/* incoming_init makes STATE/incoming and removes what an earlier plugbayd left
 * in it. Returns 0 or BAY_EIO with err set. */
int incoming_init(broker *b, bay_error *err);

/* incoming_put takes one part of a package (args as above): 0 with *out the
 * bytes received so far, or BAY_EINVAL (a part out of order, too large, a
 * bad sha256, or the whole not matching it), BAY_EIO with err set. */
int incoming_put(broker *b, const bay_value *args, bay_value **out, bay_error *err);

/* incoming_file writes to path (PATH_MAX bytes) where the package whose
 * SHA-256 is sha is received whole, STATE/incoming/SHA256.bayplug: a
 * package downloaded there (offer.c) is then placed as one sent. */
void incoming_file(const broker *b, const char *sha, char *path);

/* incoming_unpack unpacks the package received whole with the sha256 of args
 * into a new hidden folder of the plugins folder, staging (PATH_MAX bytes),
 * with every check of the package and its signature checked under
 * plugbayd's policy, and reads its manifest into *m (the caller's; its dir is
 * staging): 0, or the step's code with err set and nothing left. The received
 * file is removed either way; on success the caller moves staging away or
 * removes it (BAY_ENOENT: no such package was received). */
int incoming_unpack(broker *b, const bay_value *args, char *staging, bay__manifest **m, bay_error *err);

/* incoming_place unpacks the package received whole with the sha256 of args
 * into the plugins folder and rescans it: 0 with *p the plugin it holds (not
 * installed yet), or the error of the step that failed (BAY_ENOENT: no such
 * package was received; BAY_EEXIST: the plugins folder has that id already;
 * the package's and the signature's codes), with nothing left in the plugins
 * folder. The received file is removed either way. */
int incoming_place(broker *b, const bay_value *args, plugin **p, bay_error *err);

/* incoming_withdraw removes plugin p's folder, placed by incoming_place for an
 * install that then failed, and rescans, so that nothing is left. */
void incoming_withdraw(broker *b, plugin *p);

/* incoming_installed records that plugin p, placed by incoming_place, was
 * installed and is loading: if that first load fails (p settles failed or
 * invalid), p is uninstalled and its folder removed (at the next
 * incoming_tick, once its worker is gone), so that a package that cannot load
 * leaves nothing — its Python sources refused by the worker's policy, say. */
void incoming_installed(broker *b, const plugin *p);

/* incoming_settled is lifecycle.c's b->settled listener (incoming_installed). */
void incoming_settled(broker *b, plugin *p);

/* incoming_tick withdraws the packages whose first load failed; on the loop thread. */
void incoming_tick(broker *b);

/* incoming_free forgets them (at shutdown). */
void incoming_free(broker *b);

#endif
