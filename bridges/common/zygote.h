/* bridges/common/zygote.h — a worker's language made ready once and forked
 * for each plugin: `plugbay-worker-LANG --zygote` (broker/zygote.h).
 *
 * The zygote reads requests from its standard input (protocol/
 * zygote_protocol.h). For each it forks a middle process that takes new PID
 * and IPC namespaces for its children (when asked), forks the worker, sends
 * plugbayd the worker's pid and exits: the worker, orphaned, is adopted by
 * plugbayd (a child subreaper), which reaps it and watches it as a worker it
 * started by exec. The worker waits until plugbayd is its parent, makes a
 * user namespace of its own, takes the output descriptor, folder, session and
 * environment plugbayd sent, and returns from bay__zygote into its main(),
 * whose bay__worker_main runs on as in a worker started by exec: the
 * sandbox, NNG and the plugin come after, in the worker alone. The zygote
 * runs no plugin code, starts no thread and never initialises NNG. */
#ifndef BAY_WORKER_ZYGOTE_H
#define BAY_WORKER_ZYGOTE_H

#include "worker.h"

/* bay__zygote returns at once unless argv[1] is "--zygote". Then this
 * process is bridge's zygote: it runs bridge->prepare, says it is ready and
 * serves until plugbayd closes its socket, when it exits; bay__zygote returns
 * only in each worker it forks, ready for bay__worker_main. */
void bay__zygote(int argc, char **argv, const bay__bridge *bridge);

#endif
