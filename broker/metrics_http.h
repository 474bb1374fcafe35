/* broker/metrics_http.h — the /metrics endpoint (--metrics ADDR:PORT): NNG's HTTP server, its bearer token, the text it serves. */
#ifndef BAY_METRICS_HTTP_H
#define BAY_METRICS_HTTP_H

#include <stddef.h>

#include <plugbay/plugbay.h>

typedef struct metrics_http metrics_http;

/* metrics_http_start serves GET /metrics on addr (HOST:PORT) to requests
 * bearing the token: the one in token_file (NULL: a new random one, written
 * to STATE_DIR/metrics.token, mode 0600). Call it from the loop's thread once
 * signals are blocked (NNG's threads inherit the mask). Returns 0 with *out,
 * or the code with err saying what is wrong (an address NNG cannot parse or
 * bind, a port in use, a token file unreadable or unfit). */
int metrics_http_start(const char *addr, const char *token_file, const char *state_dir, metrics_http **out,
                       bay_error *err);

/* metrics_http_publish makes text (len bytes, copied) what the next requests
 * get. Called by the loop; the handler, on NNG's threads, copies it under
 * the same mutex and never touches broker state. */
void metrics_http_publish(metrics_http *m, const char *text, size_t len);

/* metrics_http_url returns the URL served, metrics_http_token the token and
 * metrics_http_token_file the file holding it (borrowed, valid until stop). */
const char *metrics_http_url(const metrics_http *m);
const char *metrics_http_token(const metrics_http *m);
const char *metrics_http_token_file(const metrics_http *m);

/* metrics_http_stop stops the server and frees m (NULL allowed); at exit. */
void metrics_http_stop(metrics_http *m);

#endif
