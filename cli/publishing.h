/* cli/publishing.h — the plugbay commands about plugin indexes, run without a broker: index build, index revoke, publish, search, download, info --available. */
#ifndef BAY_CLI_PUBLISHING_H
#define BAY_CLI_PUBLISHING_H

#include "signing.h"

/* Each prints its result on stdout (one JSON object or array with a->json)
 * and returns 0, or returns a bay_errno code with err saying what went wrong. */

/* cli_index_build writes a->dir/index.json from the packages there, signed with a->key, and its index.json.sig. */
int cli_index_build(const signing_args *a, bay_error *err);

/* cli_index_revoke marks a->operand2 (ID@VERSION) revoked for a->reason in the index a->dir and signs it again. */
int cli_index_revoke(const signing_args *a, bay_error *err);

/* cli_publish copies the package a->dir into the index folder a->operand2 and builds the index again. */
int cli_publish(const signing_args *a, bay_error *err);

/* cli_search fetches the index at a->index, checks it against the keys in
 * a->trusted and lists each plugin whose id, name or brief holds a->dir
 * (any case) at its newest version for this plugbay. */
int cli_search(const signing_args *a, bay_error *err);

/* cli_download fetches the index at a->index as cli_search does, picks the
 * newest version of a->dir (ID[@RANGE]) for this plugbay, and fetches its
 * package into a->out (default: its file name in the current folder),
 * checked against the index's size and sha256. */
int cli_download(const signing_args *a, bay_error *err);

/* cli_info_available fetches the index at a->index as cli_search does and
 * shows every version of plugin a->dir in it, newest first, and which one
 * this plugbay would take. */
int cli_info_available(const signing_args *a, bay_error *err);

#endif
