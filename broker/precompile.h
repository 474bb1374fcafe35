/* broker/precompile.h — a WebAssembly plugin's module compiled before its worker starts, by plugbay-worker-wasm --compile, watched from the loop.
 *
 * The first load of a wasm plugin since plugbayd started, or since its
 * module changed (install, install.package, install.index, load, an update,
 * a rollback, the plugins found at start or by a rescan) first runs
 * `plugbay-worker-wasm --compile`, which translates the module with wasm2c
 * and compiles it with cc into the compile cache (bridges/wasm/cache.h), or
 * finds it there, and exits. Meanwhile the plugin is waiting (a command that
 * installed it answers once it settles) and plugbayd serves on: the compile
 * is a child process, started as workers are (launch.h), reaped by
 * supervise_reap, at most COMPILES_MAX at once. When it ends, what waited goes
 * on (b->compiled, lifecycle_compiled): the load, whose worker finds the
 * module in the cache, or fails with the compile's reason (wasm2c's, for a
 * module it refuses: an install is then refused). An update of a loaded
 * plugin compiles its new module the same way while the version serving
 * serves on, then starts the new worker beside it. What was compiled is
 * remembered by the file's identity (device, inode, size, mtime): a worker's
 * restart or a later load runs nothing. Not under --plugin-uids, whose
 * workers have caches of their own: their worker compiles its module when it
 * starts. */
#ifndef BAY_PRECOMPILE_H
#define BAY_PRECOMPILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker.h"

/* precompile_ready tells whether p may start a worker running manifest m
 * (p->m, or a reload's): 0 (not a wasm plugin, or its module compiled),
 * BAY_EPENDING when its module is being compiled (what waits goes on when
 * that ends: b->compiled), or the compile's code with err naming the plugin
 * and saying why (a failure is told once: the next load compiles again). */
int precompile_ready(broker *b, const plugin *p, const bay__manifest *m, bay_error *err);

/* precompile_reaped takes the end of child pid with status (waitpid's):
 * false when pid is not a compile. */
bool precompile_reaped(broker *b, pid_t pid, int status);

/* precompile_tick kills the compiles that ran past --compile-timeout-ms (their
 * loads then fail with BAY_ETIMEDOUT) and returns when the next one would be
 * due (CLOCK_MONOTONIC ms, 0 = none). */
int64_t precompile_tick(broker *b, int64_t now);

/* precompile_ms returns how long the last compile plugbayd ran for plugin id
 * took, from its start to its end (the module built, or found in the cache),
 * or -1 when none ended since plugbayd started. */
int64_t precompile_ms(const broker *b, const char *id);

/* precompile_stop kills the compiles under way and forgets them (at shutdown). */
void precompile_stop(broker *b);

#endif
