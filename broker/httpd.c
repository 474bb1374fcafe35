/* broker/httpd.c — an HTTP server of NNG's on HOST:PORT, one handler for every path (httpd.h). */
#include "httpd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* has_port tells whether addr ends in ":PORT", a port from 1 to 65535 (NNG would take 80 for none, any for 0). */
static bool has_port(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    char *end;
    long port = colon && colon[1] >= '0' && colon[1] <= '9' ? strtol(colon + 1, &end, 10) : 0;
    return port >= 1 && port <= 65535 && *end == '\0';
}

int httpd_start(const char *flag, const char *addr, nng_tls_config *tls, size_t max_body, void (*fn)(nng_aio *),
                void *data, nng_http_server **out, bay_error *err)
{
    char url[320];
    nng_url *u = NULL;
    nng_http_server *s = NULL;
    nng_http_handler *h = NULL;
    int n = snprintf(url, sizeof url, "%s://%s/", tls ? "https" : "http", addr);
    int rv = n > 0 && (size_t)n < sizeof url && has_port(addr) ? nng_url_parse(&u, url) : NNG_EADDRINVAL;
    if (rv == 0 && strcmp(u->u_path, "/") != 0)
        rv = NNG_EADDRINVAL;
    if (rv == 0)
        rv = nng_http_server_hold(&s, u);
    nng_url_free(u);
    if (rv)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "%s %s: not an address to serve on (%s); give HOST:PORT, such as 127.0.0.1:9464", flag,
                             addr, nng_strerror(rv));
    if (tls)
        rv = nng_http_server_set_tls(s, tls);
    if (rv == 0 && (rv = nng_http_handler_alloc(&h, "/", fn)) == 0 && (rv = nng_http_handler_set_method(h, NULL)) == 0 &&
        (rv = nng_http_handler_set_tree(h)) == 0 && (rv = nng_http_handler_set_data(h, data, NULL)) == 0 &&
        (rv = nng_http_handler_collect_body(h, max_body > 0, max_body)) == 0)
        rv = nng_http_server_add_handler(s, h);
    if (rv) {
        if (h) /* not the server's yet */
            nng_http_handler_free(h);
        nng_http_server_release(s);
        return bay_error_set(err, BAY_ENOMEM, NULL, "%s %s: cannot make the server's handler: %s", flag, addr,
                             nng_strerror(rv));
    }
    if ((rv = nng_http_server_start(s)) != 0) {
        nng_http_server_release(s);
        return bay_error_set(err, rv == NNG_EADDRINUSE ? BAY_EBUSY : BAY_EINVAL, NULL, "%s %s: cannot serve there: %s%s",
                             flag, addr, nng_strerror(rv),
                             rv == NNG_EADDRINUSE ? " (another program listens on that port; choose another)" : "");
    }
    *out = s;
    return 0;
}

void httpd_stop(nng_http_server *s)
{
    if (s == NULL)
        return;
    nng_http_server_stop(s); /* waits for handlers in progress; release frees the server and its handler */
    nng_http_server_release(s);
}
