/* cli/dev.h — plugbay dev: a plugin folder served by a private plugbayd, rebuilt and reloaded on every change. */
#ifndef BAY_CLI_DEV_H
#define BAY_CLI_DEV_H

#include "signing.h"

/* cli_dev builds and loads the plugin folder a->dir (and each of a->with
 * first) in a private plugbayd, prints the URL hosts connect to, and then,
 * until SIGINT or SIGTERM, rebuilds the plugin when its files change
 * (watched from before the first build) and reloads it, one line each time
 * (a failed build is shown and the version before keeps serving). Returns 0
 * once interrupted, or the code with err when the first build or load fails. */
int cli_dev(const signing_args *a, bay_error *err);

#endif
