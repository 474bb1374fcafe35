/* broker/fastpath.h — fast channels: plugbayd grants a host a shared-memory channel to a worker, and revokes it.
 *
 * A host asks with COMMAND channel {name, context}. plugbayd resolves the
 * handle's provider as it would route a call, asks that plugin's worker to
 * admit the host (COMMAND channel.open {token, pid, hang_grace_ms}, answered
 * with the worker's address) and answers the host {plugin, address, token,
 * pid}. One grant serves every name the host reaches on that plugin. When a
 * name's providers change the hosts that asked about it get NOTICE
 * channel-revoked {name}; when the plugin leaves the loaded state, or the host
 * goes away, the grant ends: the worker gets COMMAND channel.close {token},
 * the host NOTICE channel-revoked {plugin, state, reason}.
 *
 * plugbayd does not see fast calls, so an unload asks the worker to drain
 * them (COMMAND channel.drain, answered once none is in hand) and waits for
 * that answer as it waits for the calls it routed. */
#ifndef BAY_BROKER_FASTPATH_H
#define BAY_BROKER_FASTPATH_H

#include "broker.h"

/* fastpath_request answers COMMAND channel from host c, at once when it is
 * refused or already granted, else once the worker answered. */
void fastpath_request(broker *b, conn *c, const bay__frame *f);

/* fastpath_answer takes a worker's answer to channel.open or channel.drain.
 * Returns false when f answers something else. */
bool fastpath_answer(broker *b, conn *worker, const bay__frame *f);

/* fastpath_worker_command handles a worker's COMMAND: channel.hung {call,
 * overdue_ms} — a fast call ran past its deadline by more than the hang
 * grace — kills the worker as a hung call over NNG would. */
void fastpath_worker_command(broker *b, conn *worker, const bay__frame *f);

/* fastpath_drain asks worker, p's, when some host holds a channel to it, to
 * close every channel and answer once no fast call is in hand (COMMAND
 * channel.drain). Call it before p leaves the loaded state, which ends the
 * grants it looks at. fastpath_draining is true while a drain of one of p's
 * workers waits for its answer; fastpath_answer then calls b->drained. */
void fastpath_drain(broker *b, plugin *p, conn *worker);
bool fastpath_draining(const broker *b, const plugin *p);

/* fastpath_retire drains old, p's worker a reload replaced, and ends its
 * grants: their hosts get NOTICE channel-revoked {plugin, "loaded"} and ask
 * again, for a channel to p's new worker; their fast calls in hand finish. */
void fastpath_retire(broker *b, plugin *p, conn *old);

/* fastpath_worker_gone tells the hosts whose fast calls a worker of p was
 * draining why it ended (why), which their calls in hand fail with, and
 * forgets the drain; that of the worker on session keep (p's other, still
 * running; 0: none) stays. */
void fastpath_worker_gone(broker *b, plugin *p, uint64_t keep, const char *why);

/* fastpath_notice revokes what a registry change (provider-added,
 * provider-removed, provider-moved) or a plugin leaving the loaded state makes stale. It sees
 * every notice lifecycle_notice sends. */
void fastpath_notice(broker *b, const char *what, const char *name, const char *plugin, const char *state,
                     const char *reason);

/* fastpath_host_gone ends the grants of host c, telling their workers. */
void fastpath_host_gone(broker *b, conn *c);

/* fastpath_count returns how many channels are granted now. */
size_t fastpath_count(const broker *b);

/* fastpath_free forgets every grant (at shutdown). */
void fastpath_free(broker *b);

#endif
