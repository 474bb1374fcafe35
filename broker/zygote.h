/* broker/zygote.h — workers forked from a process per language that is
 * already past exec, dynamic loading and its language's start.
 *
 * A zygote is `plugbay-worker-LANG --zygote`, started by plugbayd as a
 * worker is (launch.h) but in a user namespace only, with one end of a
 * socketpair as its standard input. It never runs plugin code, never starts
 * a thread and never initialises NNG (which is not fork-safe): it makes its
 * language ready (Python's interpreter), says so, and then forks one worker
 * per request. Each worker is cloned with CLONE_PARENT, so plugbayd is its
 * parent, reaps it and sees its pid, as for a worker it started itself; and
 * with CLONE_NEWPID | CLONE_NEWIPC, so it is pid 1 of PID and IPC namespaces
 * of its own; it then makes a user namespace of its own (its capabilities in
 * the zygote's are gone), takes the descriptors, folder, session and
 * environment plugbayd sent, and runs on as a worker started by exec does:
 * its mount namespace, Landlock, seccomp and limits are its plugin's
 * (bridges/common/zygote.c).
 *
 * Which languages have one is plugbayd's --zygotes (default python, whose
 * interpreter's start is most of a load): forked workers share their
 * zygote's address-space layout and stack canary, docs/security.md.
 *
 * A zygote starts once the first worker of its language has loaded (that one
 * started by exec).
 * Every step falls back to starting the worker by exec: a zygote not yet
 * ready, one that died or does not answer within ZYGOTE_REPLY_MS (it is then
 * killed and started again at the next load; one that ends before it is
 * ready is not started again), a worker running as a uid of its own
 * (--plugin-uids). The zygotes live in plugbayd's memory cgroup; the
 * workers they fork move to their plugin's (cgroup.h). */
#ifndef BAY_ZYGOTE_H
#define BAY_ZYGOTE_H

#include <stdbool.h>
#include <sys/types.h>

#include "broker.h"
#include "launch.h"

/* zygote_languages_valid tells whether list is a --zygotes value: languages
 * among c, lua, python and wasm, comma-separated, or "all", or "none". */
bool zygote_languages_valid(const char *list);

/* zygote_want starts language's zygote (plugbay-worker-LANG --zygote in
 * b->worker_dir) when --zygotes names it and none runs: a worker of that
 * language just loaded, so that the next one finds it ready without the two
 * sharing the CPUs during the first load. */
void zygote_want(broker *b, const char *language);

/* zygote_launch starts s as launch_worker does (s->exe running plugin
 * language's worker), forked from language's zygote when it has one ready.
 * Returns as launch_worker does. */
int zygote_launch(broker *b, const char *language, const launch_spec *s, pid_t *pid, const char **what);

/* zygote_reaped takes the end of child pid with status (waitpid's): false
 * when pid is not a zygote. */
bool zygote_reaped(broker *b, pid_t pid, int status);

/* zygote_stop ends every zygote and forgets them (at shutdown). */
void zygote_stop(broker *b);

#endif
