/* broker/lifecycle.h — each plugin's life: discover, load, unload after draining, crash and restart. */
#ifndef BAY_LIFECYCLE_H
#define BAY_LIFECYCLE_H

#include "broker.h"

/* lifecycle_discover finds the plugins in the plugins folder, reads their
 * manifests (an invalid one makes its plugin invalid) and puts them in load
 * order: 0, or the code with err when the folder cannot be read. */
int lifecycle_discover(broker *b, bay_error *err);
/* lifecycle_rescan looks at the plugins folder again, as at start, and
 * watches what it reads (watch.c): a new folder becomes a plugin (installed
 * and loaded with --autoinstall); a changed plugin.json of a plugin no worker
 * runs is read again; a folder gone drops a plugin not installed, and gives
 * an installed one that reason (it loads no more until the folder is back).
 * Refused entries (links, names no id can have) are logged. report (NULL
 * allowed) gets "plugins" (how many) and the lists "added", "changed",
 * "gone", "back" (ids) and "refused" ({"path", "reason"}, the first 100 of
 * "refused_total"). 0, or the code
 * with err (the folder cannot be read: nothing changed). */
int lifecycle_rescan(broker *b, bay_value *report, bay_error *err);
void lifecycle_start_enabled(broker *b);
/* lifecycle_load loads p as transition_load decides: starts it once its
 * dependencies are loaded (waiting meanwhile), or says why not in err (NULL
 * allowed, as in the other functions here taking one). */
int lifecycle_load(broker *b, plugin *p, bay_error *err);
/* lifecycle_load_fresh loads p, just installed or enabled: available,
 * disabled and failed count as stopped, and its crash count starts again. */
int lifecycle_load_fresh(broker *b, plugin *p, bay_error *err);
/* lifecycle_renew reads p's plugin.json again before a load an operator
 * asked for (fresh: at enable, as lifecycle_load_fresh) and takes it when p
 * runs no worker and would start: a changed version, config, provides,
 * timers, dependencies or order count from this load on. 0 also when there
 * is nothing to read (p running, or invalid); else the manifest's error, a
 * dependency cycle it would make, or BAY_EPERM naming the permissions it asks
 * for that p's manifest did not and no grant covers, with the `plugbay grant`
 * line that grants them: p then keeps the manifest it has. */
int lifecycle_renew(broker *b, plugin *p, bool fresh, bay_error *err);
/* lifecycle_reload reads p's plugin.json again, refused as lifecycle_renew
 * refuses (p then goes on serving with the manifest it has). A loaded p whose
 * new manifest's dependencies are loaded gets a new worker beside the
 * serving one, which serves until the new one loaded (then it finishes its
 * calls and stops; a load that fails leaves it serving); BAY_EBUSY while
 * that new worker starts; while the old one still finishes its calls the
 * reload waits for it. Any other p is unloaded after its calls drain and
 * loaded again. */
int lifecycle_reload(broker *b, plugin *p, bay_error *err);
/* lifecycle_compiled goes on with what waited for p's module to compile
 * (precompile.h): its load, or its reload beside the version serving. */
void lifecycle_compiled(broker *b, plugin *p);
/* lifecycle_order returns p's place in load order, lower first: an
 * operator's (plugbay order; *by_operator true when by_operator is not NULL)
 * or its manifest's "order". */
int64_t lifecycle_order(broker *b, const plugin *p, bool *by_operator);
/* lifecycle_reorder puts the plugins in load order again after a place
 * changed: providers move, subscribers hear "provider-moved". */
void lifecycle_reorder(broker *b);
/* lifecycle_unload stops p after its in-flight calls drain; it then rests in
 * `rest` (PS_STOPPED, PS_DISABLED or PS_AVAILABLE), or loads again when then_load. */
int lifecycle_unload(broker *b, plugin *p, bool then_load, plugin_state rest, bay_error *err);
/* lifecycle_send_load sends p's worker on c COMMAND load for manifest m and
 * returns its id; 0 when it killed that worker instead (what to load cannot be said). */
uint64_t lifecycle_send_load(broker *b, plugin *p, const bay__manifest *m, conn *c);
/* lifecycle_worker_ready sends p's worker on c, which said HELLO, what to
 * load: p's manifest, or, to the new worker of a reload, the one it read. */
void lifecycle_worker_ready(broker *b, plugin *p, conn *c);
void lifecycle_load_answer(broker *b, plugin *p, const bay__frame *f);
/* lifecycle_worker_gone fails p's calls and fast channels after its worker
 * ended (why), then restarts it, fails it or ends its unload (b->worker_gone);
 * for its other worker (other), it ends the reload that worker was part of. */
void lifecycle_worker_gone(broker *b, plugin *p, bool other, const char *why);
/* lifecycle_other_answer takes f, an answer from p's other worker to its
 * COMMAND load (the reload switches to it, or ends it and answers why) or
 * unload (it is ended); false when f answers neither. */
bool lifecycle_other_answer(broker *b, plugin *p, const bay__frame *f);
/* lifecycle_drained goes on with p's unload once nothing is in flight (b->drained). */
void lifecycle_drained(broker *b, plugin *p);
/* lifecycle_settled tells whether p is where no request waits on it: not
 * starting, unloading or waiting for dependencies, no reload of it starting
 * or queued. */
bool lifecycle_settled(const plugin *p);
/* lifecycle_unload_answer ends the worker once it answered COMMAND unload. */
void lifecycle_unload_answer(broker *b, plugin *p);
void lifecycle_settle(broker *b, plugin *p);
void lifecycle_add_waiter(plugin *p, uint64_t session, uint64_t id);
/* lifecycle_shutdown unloads every plugin that has a worker and cancels the
 * restarts scheduled (plugbayd is stopping). */
void lifecycle_shutdown(broker *b);
/* lifecycle_on_notice has fn called with every notice, after the subscribed
 * hosts are sent it (at most LISTENERS_MAX). */
void lifecycle_on_notice(broker *b, notice_fn fn);
/* lifecycle_withdraw removes every provider owner has, telling subscribers. */
void lifecycle_withdraw(broker *b, void *owner, const char *who);
void lifecycle_notice(broker *b, const char *what, const char *name, const char *plugin, const char *state,
                      const char *reason);
int64_t lifecycle_tick(broker *b, int64_t now);
/* lifecycle_free frees every plugin (at shutdown, after the workers are gone). */
void lifecycle_free(broker *b);

/* lifecycle_disable disables installed plugin p, as `plugbay disable` does,
 * keeping it disabled at the next start, and unloads it; it ends disabled
 * with why as its reason. Returns 0, or the code with err (its dependents
 * loaded: BAY_EBUSY; the state folder not written). */
int lifecycle_disable(broker *b, plugin *p, const char *why, bay_error *err);

/* lifecycle_signature checks the signature of plugin id's folder dir under
 * the policy: 0 when it may be used (a failed check under "warn" is logged),
 * else the code with err. */
int lifecycle_signature(broker *b, const char *id, const char *dir, bay_error *err);

/* lifecycle_fail marks p failed for good (no restart) with why, and answers its waiters. */
void lifecycle_fail(broker *b, plugin *p, const char *why);

#endif
