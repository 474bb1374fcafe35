/* broker/metrics_http.c — the /metrics endpoint: NNG's HTTP server, its bearer token, the text it serves (metrics_http.h).
 *
 * The handler runs on NNG's threads and never touches broker state: the loop
 * renders the exposition once a second (metrics.c) and publishes it here, in
 * a buffer under a mutex the handler copies from, so an answer is at most one
 * second old. Handing each request to the loop instead would let a scraper
 * that floods the port make the loop render for every request. */
#include "metrics_http.h"
#include "file.h"
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <sodium.h>

#define TOKEN_MIN 16  /* bytes a token given in a file must have at least, */
#define TOKEN_MAX 256 /* and at most */

struct metrics_http {
    nng_http_server *server;
    pthread_mutex_t mtx;  /* guards text and len, which the loop replaces and the handler copies */
    char *text;
    size_t len;
    char token[TOKEN_MAX + 1];
    size_t token_len;
    char url[320];
    char token_file[PATH_MAX];
};

/* authorized tells whether header (the request's Authorization, or NULL) is
 * "Bearer " and m's token, compared in constant time. */
static bool authorized(const metrics_http *m, const char *header)
{
    static const char scheme[] = "Bearer ";
    if (header == NULL || strncasecmp(header, scheme, sizeof scheme - 1) != 0)
        return false;
    const char *given = header + sizeof scheme - 1;
    return strlen(given) == m->token_len && sodium_memcmp(given, m->token, m->token_len) == 0;
}

/* answer makes the response: status, a one-line text body (or the
 * exposition, copied under the mutex, for 200). NULL when out of memory. */
static nng_http_res *answer(metrics_http *m, uint16_t status)
{
    static const struct {
        uint16_t status;
        const char *body;
    } bodies[] = {
        {401, "401 unauthorized: send the header \"Authorization: Bearer TOKEN\" (`plugbay metrics` prints it)\n"},
        {404, "404 not found: plugbayd serves /metrics only\n"},
        {405, "405 method not allowed: /metrics answers GET\n"},
    };
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0)
        return NULL;
    int rv = nng_http_res_set_status(res, status);
    for (size_t i = 0; rv == 0 && i < sizeof bodies / sizeof *bodies; i++)
        if (bodies[i].status == status)
            rv = nng_http_res_copy_data(res, bodies[i].body, strlen(bodies[i].body)) ||
                 nng_http_res_set_header(res, "Content-Type", "text/plain; charset=utf-8");
    if (rv == 0 && status == 401)
        rv = nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"plugbayd\"");
    if (rv == 0 && status == 405)
        rv = nng_http_res_set_header(res, "Allow", "GET");
    if (rv == 0 && status == 200) {
        pthread_mutex_lock(&m->mtx);
        rv = nng_http_res_copy_data(res, m->text ? m->text : "", m->text ? m->len : 0);
        pthread_mutex_unlock(&m->mtx);
        if (rv == 0)
            rv = nng_http_res_set_header(res, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    }
    if (rv) {
        nng_http_res_free(res);
        return NULL;
    }
    return res;
}

/* serve answers one request, on an NNG thread: 401 without the token (before
 * anything else is told), 405 for a method other than GET, 404 for a path
 * other than /metrics, else the latest exposition. */
static void serve(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    metrics_http *m = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
    const char *uri = nng_http_req_get_uri(req);
    size_t path = strcspn(uri, "?#");
    uint16_t status = !authorized(m, nng_http_req_get_header(req, "Authorization")) ? 401
                      : strcmp(nng_http_req_get_method(req), "GET") != 0              ? 405
                      : path != strlen("/metrics") || strncmp(uri, "/metrics", path) != 0 ? 404
                                                                                          : 200;
    nng_http_res *res = answer(m, status);
    if (res == NULL) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* token_read takes m's token from file: its text less trailing whitespace,
 * TOKEN_MIN to TOKEN_MAX visible ASCII characters. */
static int token_read(metrics_http *m, const char *file, bay_error *err)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int e = bay__file_read_small(AT_FDCWD, file, 0, 4096, &text, &len, &st);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "--metrics-token-file %s: %s", file, strerror(e));
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    bool visible = len >= TOKEN_MIN && len <= TOKEN_MAX;
    for (size_t i = 0; visible && i < len; i++)
        visible = text[i] > ' ' && text[i] < 0x7f;
    if (visible)
        memcpy(m->token, text, len);
    free(text);
    if (!visible)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "--metrics-token-file %s must hold one token of %d to %d visible ASCII characters (no "
                             "spaces), such as `head -c 32 /dev/urandom | base64`",
                             file, TOKEN_MIN, TOKEN_MAX);
    m->token_len = len;
    snprintf(m->token_file, sizeof m->token_file, "%s", file);
    return 0;
}

/* token_new makes m a random token (32 bytes from libsodium, in hex) and
 * writes it to STATE/metrics.token, mode 0600, replacing the one of an
 * earlier start. */
static int token_new(metrics_http *m, const char *state_dir, bay_error *err)
{
    unsigned char raw[32];
    if (sodium_init() < 0)
        return bay_error_set(err, BAY_EIO, NULL, "libsodium cannot start, so no token for /metrics");
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(m->token, sizeof m->token, raw, sizeof raw);
    m->token_len = 2 * sizeof raw;
    snprintf(m->token_file, sizeof m->token_file, "%s/metrics.token", state_dir);
    char line[TOKEN_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", m->token);
    const char *step = "remove the old one";
    int e = unlink(m->token_file) != 0 && errno != ENOENT ? errno : 0;
    if (e == 0)
        e = bay__file_write_new(AT_FDCWD, m->token_file, 0600, line, (size_t)n, &step);
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot write the /metrics token to %s (%s): %s", m->token_file, step,
                             strerror(e))
             : 0;
}

int metrics_http_start(const char *addr, const char *token_file, const char *state_dir, metrics_http **out,
                       bay_error *err)
{
    metrics_http *m = calloc(1, sizeof *m);
    if (m == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&m->mtx, NULL);
    int rc = token_file ? token_read(m, token_file, err) : token_new(m, state_dir, err);
    if (rc == 0 && (rc = httpd_start("--metrics", addr, NULL, 0, serve, m, &m->server, err)) == 0)
        snprintf(m->url, sizeof m->url, "http://%s/metrics", addr);
    if (rc) {
        metrics_http_stop(m);
        return rc;
    }
    *out = m;
    return 0;
}

void metrics_http_publish(metrics_http *m, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return; /* the previous text stays served */
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_mutex_lock(&m->mtx);
    char *old = m->text;
    m->text = copy;
    m->len = len;
    pthread_mutex_unlock(&m->mtx);
    free(old);
}

const char *metrics_http_url(const metrics_http *m)
{
    return m->url;
}

const char *metrics_http_token(const metrics_http *m)
{
    return m->token;
}

const char *metrics_http_token_file(const metrics_http *m)
{
    return m->token_file;
}

void metrics_http_stop(metrics_http *m)
{
    if (m == NULL)
        return;
    httpd_stop(m->server);
    sodium_memzero(m->token, sizeof m->token);
    pthread_mutex_destroy(&m->mtx);
    free(m->text);
    free(m);
}
