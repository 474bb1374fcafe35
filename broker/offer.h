/* broker/offer.h — what the indexes plugbayd follows offer (index.list), and installing from them (install.index): the package downloaded off the loop thread.
 *
 * Both read the indexes as of their last verified read (follow_offers).
 * install.index picks the version, downloads its package into
 * STATE/incoming/SHA256.bayplug on a thread of its own (capped at the size
 * the index gives, its size and SHA-256 checked against the index), which
 * hands it to the loop through an eventfd; the loop then installs it as
 * install.package does (command_install_placed) and answers the command
 * once the plugin settles. A dependency not installed is refused before
 * any download, naming it and how to install it. */
#ifndef BAY_OFFER_H
#define BAY_OFFER_H

#include "broker.h"

/* offer_list runs `index.list {"query"?}`: an array of the plugins the
 * followed indexes offer, the newest version of each not revoked (the first
 * index that has the id wins), each {"id", "version", "name", "brief",
 * "language", "permissions", "dependencies", "size", "publisher",
 * "key_id", "verified", "index", "installed" (the installed version or nil),
 * "outdated"}; query keeps those whose id, name or brief holds it (case
 * ignored). Errors as follow_offers. */
int offer_list(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

/* offer_install runs `install.index {"id", "version"? | "range"?, "grant_all"? | "grant"?}`
 * (a relay: answered later, once the plugin settles, or with the error of
 * the download or the install). Refuses at once: no id (BAY_EINVAL), the
 * plugin already in the plugins folder (BAY_EEXIST), no index followed
 * (BAY_ENOENT), none read yet (BAY_EBUSY), no such plugin or version in
 * them (BAY_ENOENT), a dependency not installed (BAY_ENOENT), a package
 * larger than --package-max-mb (BAY_EPERM), the same id downloading already
 * or too many downloads (BAY_EBUSY). */
int offer_install(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err);

/* offer_fd returns the descriptor the loop polls for a finished download (-1: none started yet). */
int offer_fd(const broker *b);

/* offer_apply installs the packages downloaded, on the loop thread, and answers their commands. */
void offer_apply(broker *b);

/* offer_stop forgets the downloads (at exit); one still under way goes with the process. */
void offer_stop(broker *b);

#endif
