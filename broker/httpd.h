/* broker/httpd.h — an HTTP server of NNG's on HOST:PORT, one handler for every path: what /metrics and the console share. */
#ifndef BAY_HTTPD_H
#define BAY_HTTPD_H

#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <plugbay/plugbay.h>

/* httpd_start serves addr (HOST:PORT, a port from 1 to 65535) over http, or
 * https with tls (NULL: none), handing every request, whatever its path and
 * method, to fn with data as the handler's data; a request body of up to
 * max_body bytes is read before fn runs (0: none). flag names the option addr
 * came from, for messages. Returns 0 with *out started (httpd_stop ends it),
 * or BAY_EINVAL (not such an address, or one NNG cannot serve), BAY_EBUSY (the
 * port in use) or BAY_ENOMEM, with err saying what to do. */
int httpd_start(const char *flag, const char *addr, nng_tls_config *tls, size_t max_body, void (*fn)(nng_aio *),
                void *data, nng_http_server **out, bay_error *err);

/* httpd_stop stops s (NULL allowed), waiting for the handlers in progress, and lets it go. */
void httpd_stop(nng_http_server *s);

#endif
