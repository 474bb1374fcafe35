/* broker/console_http.h — the web console's HTTP side (--console): logins, sessions, CSRF, the API relayed to the broker's thread, live events, the console's files, plugins' panels.
 *
 * It runs on NNG's HTTP threads and never touches broker state. Each session
 * is a connection inside plugbayd (conn_open_local) that the broker's thread
 * opened for the user who ran `plugbay console`, with that user's role: an
 * API request becomes a COMMAND frame of that connection, handed over by the
 * push function, and the broker's own command table decides what it may do;
 * the answer comes back through console_http_deliver. */
#ifndef BAY_CONSOLE_HTTP_H
#define BAY_CONSOLE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <plugbay/plugbay.h>

typedef struct console_http console_http;

/* How requests reach the broker's thread: push takes msg, a COMMAND frame
 * from connection session, and hands it over (false: it could not; msg is
 * freed either way). Called on NNG's threads. */
typedef bool (*console_push_fn)(void *arg, uint64_t session, nng_msg *msg);

/* console_http_start serves the console on addr (HOST:PORT): over https with
 * the certificate and key in the PEM file cert (NULL: http, then only on a
 * loopback address). Returns 0 with *out, or BAY_EINVAL (an address it
 * cannot serve, or not loopback without cert; a cert NNG cannot load), BAY_EBUSY
 * (the port in use) or BAY_ENOMEM, with err saying what to do. */
int console_http_start(const char *addr, const char *cert, console_push_fn push, void *arg, console_http **out,
                       bay_error *err);

/* console_http_login records a one-time login, valid 5 minutes, for
 * connection session, opened for who with role (both copied), and writes the
 * URL that uses it to url (len bytes). Returns 0, or BAY_EBUSY when too many
 * logins and sessions are open (err says so). */
int console_http_login(console_http *h, uint64_t session, const char *who, const char *role, char *url, size_t len,
                       bay_error *err);

/* console_http_deliver takes msg, a frame plugbayd sent connection session
 * (on the broker's thread): an answer completes the request that waits for
 * it, a notice goes to the session's event streams. */
void console_http_deliver(console_http *h, uint64_t session, nng_msg *msg);

/* console_http_line sends plugin's log line to every event stream (on the broker's thread). */
void console_http_line(console_http *h, const char *plugin, const char *line);

/* console_http_tick runs once a second on the broker's thread: it answers 504
 * to requests that waited 2 minutes, pings the event streams, ends the
 * streams whose browser left, forgets logins and sessions that expired or
 * logged out, and writes the connections of those (at most max) to ended for
 * the caller to close. Returns how many it wrote. */
size_t console_http_tick(console_http *h, uint64_t *ended, size_t max);

/* console_http_panel_url gives panel of plugin (whose files are the folder
 * dir; entry the file to open, relative to dir) its capability — the same
 * one each time, with dir updated — and writes the absolute URL of entry
 * under it to url (len bytes). Returns 0 or BAY_ENOMEM. */
int console_http_panel_url(console_http *h, const char *plugin, const char *panel, const char *dir, const char *entry,
                           char *url, size_t len);

/* console_http_url returns the console's address, "http(s)://HOST:PORT" (borrowed). */
const char *console_http_url(const console_http *h);

/* console_http_stop fails the requests waiting, closes the event streams,
 * stops the server and frees h (NULL allowed); at exit, on the broker's thread. */
void console_http_stop(console_http *h);

#endif
