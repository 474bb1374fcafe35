/* broker/route.h — calls and events in flight, from their caller to each provider and back. */
#ifndef BAY_ROUTE_H
#define BAY_ROUTE_H

#include "broker.h"

void route_call(broker *b, conn *from, const bay__frame *f);
void route_event(broker *b, conn *from, const bay__frame *f);
void route_answer(broker *b, conn *from, const bay__frame *f);
void route_cancel(broker *b, conn *from, uint64_t origin_id);
/* route_chunk forwards a CHUNK: one that from, serving a call, sent of its
 * streamed answer to the call's caller, within the caller's window and the
 * types of a typed point; one of a call's input that from, its caller, sent
 * to the provider, within the provider's credit. A chunk past them fails the
 * call (BAY_EPROTO, BAY_ETYPE), and the provider is told to stop. A late one
 * is dropped. */
void route_chunk(broker *b, conn *from, const bay__frame *f);
/* route_credit takes a CREDIT: from the caller of a stream (its window
 * grows, and the provider is told) or from the provider of a call's input
 * (the caller may send that many more chunks, and is told). One that would
 * make a window pass the most it may be, or is not positive, fails the call
 * (BAY_EPROTO). */
void route_credit(broker *b, conn *from, const bay__frame *f);
/* route_end takes the END of a call's input from its caller and tells the
 * provider; a second END, or one for a call without input, fails the call
 * (BAY_EPROTO). */
void route_end(broker *b, conn *from, const bay__frame *f);
uint64_t route_timer_tick(broker *b, plugin *p, plugin_timer *t);
/* route_hook calls hook name ("hook:settings") of p's serving worker with args
 * (packed msgpack; NULL: none) within timeout_ms, as a timer tick is called:
 * no caller waits, a failure is logged. Returns the call's id, 0 when out of memory. */
uint64_t route_hook(broker *b, plugin *p, const char *name, const msgpack_object *args, int64_t timeout_ms);
/* route_call_plugin calls handle name of plugin p alone, with args (packed
 * in a msgpack array; NULL: none) within timeout_ms (0: the default), for
 * connection from, which gets the answer as that of its request origin_id:
 * the call's RESULT or ERROR, as a CALL's (deadline, cancel, fair shares,
 * the connection's cap of calls in flight). No other provider of name is
 * ever chosen. Returns 0 once the call is on its way, else, with err: BAY_ESTATE
 * when p is not loaded, BAY_EPERM when p does not provide name as a handle
 * now (an event, another plugin's, or no extension point), BAY_EPROTO
 * when origin_id is 0, BAY_EBUSY, BAY_ENOMEM. */
int route_call_plugin(broker *b, conn *from, uint64_t origin_id, plugin *p, const char *name,
                      const msgpack_object *args, int64_t timeout_ms, bay_error *err);
void route_fail_provider(broker *b, uint64_t session, plugin *p, int code, const char *why);
void route_fail_origin(broker *b, uint64_t session);
/* route_host_gone fails the calls host c made and those it was serving (a host_gone_fn). */
void route_host_gone(broker *b, conn *c);
int64_t route_expire(broker *b, int64_t now);
/* route_init makes the table of calls in flight: 0, or BAY_ENOMEM. */
int route_init(broker *b);
/* route_serving counts the calls the provider on connection session has in hand. */
size_t route_serving(broker *b, uint64_t session);
/* route_in_flight counts the calls in flight. */
size_t route_in_flight(const broker *b);
/* route_fast_calls adds to p's statistics the calls its worker (serving or,
 * during a reload, the other) answered on fast channels since its last report
 * (COMMAND "fastcalls", a value of callstat.h's), which plugbayd never saw. A
 * report that does not add up is logged within p's rate limit and ignored:
 * the worker runs the plugin's code and is not trusted, though a report that
 * adds up is its word for its own plugin's figures. */
void route_fast_calls(broker *b, plugin *p, const bay__frame *f);
/* route_free forgets every call in flight and frees their table (at shutdown). */
void route_free(broker *b);

#endif
