/* broker/peer.h — who may connect to plugbayd: no plugin worker, nor any process one started.
 *
 * Landlock does not cover connecting to a Unix socket by path, so a plugin
 * could dial STATE/plugbayd.sock (or a connection's STATE/run/cN.sock) and,
 * past the handshake, hold the rights of whoever runs plugbay. plugbayd reads
 * each ipc peer's pid (SO_PEERCRED, NNG_OPT_IPC_PEER_PID) and walks its
 * parents in /proc: a process whose chain reaches a live worker, or plugbayd
 * itself, is refused. plugbayd is a child subreaper (supervise_init), so a
 * worker's descendant orphaned by a double fork or by its worker's end is
 * adopted by plugbayd, not by init, and its chain still reaches plugbayd —
 * which starts no other processes than workers.
 *
 * The live workers are written by the broker's thread and read by NNG's
 * (pipe callbacks), so they sit behind a mutex, as do the rate limits of the
 * log lines about refused peers. */
#ifndef BAY_BROKER_PEER_H
#define BAY_BROKER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <plugbay/error.h>

typedef struct peer_guard peer_guard;

/* peer_guard_new returns an empty guard, or NULL when out of memory. It is
 * never freed: connections NNG still calls back about may use it until exit. */
peer_guard *peer_guard_new(void);

/* peer_guard_hold holds back every check until peer_guard_release. The broker
 * holds it from posix_spawn until the new worker is recorded, so the worker's
 * own dial, which may come first, waits to find its pid known. */
void peer_guard_hold(peer_guard *g);
void peer_guard_release(peer_guard *g);

/* peer_worker_started records pid as plugin's worker, which dials connection
 * session (call with the guard held). Returns 0 or BAY_ENOMEM. */
int peer_worker_started(peer_guard *g, pid_t pid, uint64_t session, const char *plugin);

/* peer_worker_ended forgets worker pid once it is reaped (its plugin is still
 * named when an orphan of it knocks). */
void peer_worker_ended(peer_guard *g, pid_t pid);

/* peer_is_worker_of tells whether pid is the live worker that dials session. */
bool peer_is_worker_of(peer_guard *g, pid_t pid, uint64_t session);

/* peer_admit tells whether process pid may connect (where says to what, for
 * the log): 0, or BAY_EPERM with err (NULL allowed) holding the refusal to
 * send the peer and, as its plugin, the plugin whose worker pid comes from
 * when known; and a log line naming the plugin within that plugin's rate
 * limit — written at once on the broker's thread, left for peer_guard_flush
 * when defer (NNG's threads). pid 0 (not known: tcp, or a process in a pid
 * namespace plugbayd cannot see) is admitted. */
int peer_admit(peer_guard *g, pid_t pid, const char *where, bool defer, bay_error *err);

/* peer_log_stray leaves for peer_guard_flush a line about a process that is
 * no plugin's but dialled a connection made for another (from NNG's threads). */
void peer_log_stray(peer_guard *g, pid_t pid, uint64_t session, pid_t expected);

/* peer_guard_flush writes the lines NNG's threads left, each within its rate
 * limit (on the broker's thread, which owns the log). */
void peer_guard_flush(peer_guard *g);

#endif
