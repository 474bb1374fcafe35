/* broker/console.h — the web console (--console), on the broker's thread: its sessions as connections inside plugbayd, `plugbay console`'s login links, panels' URLs. The HTTP side is console_http.h. */
#ifndef BAY_CONSOLE_H
#define BAY_CONSOLE_H

#include "broker.h"

/* console_start serves the console when plugbayd was asked to (--console):
 * 0 (also when it was not), or the code with err saying why it cannot. */
int console_start(broker *b, bay_error *err);

/* console_command answers host c's COMMAND console f (command.c's table, as
 * a relay: p and args unused): a one-time login link {"url", "expires_s",
 * "role"} to a new session with c's role, user and grants. Returns 0, or
 * BAY_ENOENT when plugbayd serves no console, BAY_EPERM for a console session
 * itself, BAY_EBUSY when too many sessions are open, with err set (the table
 * answers it). */
int console_command(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err);

/* console_tick, once a second: ends the sessions that expired or logged out
 * (their connections let go) and what console_http_tick does. Returns the
 * next time it is due (0: no console). */
int64_t console_tick(broker *b, int64_t now);

/* console_panel_url writes to url (len bytes) the URL at which the console
 * serves panel of plugin p: 0, or BAY_ENOENT when plugbayd serves no console
 * or p declares no such panel (BAY_ENOMEM out of memory). */
int console_panel_url(broker *b, const plugin *p, const char *panel, char *url, size_t len);

/* console_stop fails the requests waiting, closes the event streams and stops serving (at exit). */
void console_stop(broker *b);

#endif
