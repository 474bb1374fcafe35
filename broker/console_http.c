/* broker/console_http.c — the web console's HTTP side (console_http.h).
 *
 * Everything here runs on NNG's threads but for deliver, line, tick, panel_url
 * and stop, which the broker's thread calls; one mutex guards the tables
 * (logins and sessions, requests waiting, event streams, panels). No request
 * reaches broker state but as a frame of its session's connection.
 *
 * Who gets what: /login trades a one-time token for a session cookie
 * (HttpOnly, SameSite=Strict, 8 hours; Secure over https); every other path
 * but a panel's files needs that cookie; every POST also needs the session's
 * CSRF token in X-CSRF-Token, and an Origin, when the browser sends one, that
 * is the console's. The Host header must name the console (a page of another
 * site that rebinds its name to 127.0.0.1 is refused). A panel's files are
 * served under a capability path (a sandboxed frame sends no cookie), with a
 * Content-Security-Policy that sandboxes them and forbids any request but for
 * their own files. */
#include "console_http.h"
#include "clock.h"
#include "console_assets.h"
#include "file.h"
#include "frame.h"
#include "httpd.h"
#include "value_convert.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#define SESSIONS_MAX 64               /* logins and sessions open at once */
#define LOGIN_MS (5 * 60 * 1000)      /* a login token's life */
#define SESSION_MS (8 * 3600 * 1000)  /* a session's */
#define PENDING_PER_SESSION 32        /* requests of one session waiting for the broker */
#define PENDING_MS (120 * 1000)       /* how long one may wait */
#define STREAMS_PER_SESSION 4
#define STREAMS_MAX 32
#define STREAM_BUFFER_MAX (1 << 20)   /* bytes a stream may have unsent before it is ended as too slow */
#define PING_MS 15000
#define BODY_MAX (2u << 20)           /* a request's body */
#define PANELS_MAX 1024
#define PANEL_FILE_MAX (8u << 20)

static const char console_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
static const char panel_csp[] =
    "sandbox allow-scripts allow-forms; default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'none'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'self'";

/* A login, then the session it became. */
typedef struct session {
    bool used;               /* the slot is taken */
    bool active;             /* the login was traded for a session */
    bool ended;              /* logged out or expired: its connection is to close */
    char token[65];          /* the one-time login token ("" once used) */
    char cookie[65];
    char csrf[65];
    uint64_t conn;           /* its connection inside plugbayd */
    char who[160], role[16];
    int64_t expires_ms;      /* CLOCK_MONOTONIC: of the login, then of the session */
    int64_t expires_wall_ms; /* the session's, for the browser */
    int pending, streams;
} session;

typedef struct pending {
    nng_aio *aio;
    uint64_t conn, id;
    int64_t since_ms;
    struct pending *next;
} pending;

/* An event stream (GET /api/events), on a connection taken from NNG's HTTP server. */
typedef struct stream {
    struct console_http *h;
    nng_http_conn *conn;
    nng_aio *aio;
    uint64_t session_conn;
    char *sending;           /* the bytes being written */
    char *queued;            /* and those to write next */
    size_t queued_len;
    bool writing, dead;
    struct stream *next;
} stream;

typedef struct panel_cap {
    char cap[33];
    char plugin[128], panel[72];
    char dir[PATH_MAX];
} panel_cap;

struct console_http {
    nng_http_server *server;
    nng_tls_config *tls;
    console_push_fn push;
    void *push_arg;
    char url[320];           /* http(s)://HOST:PORT */
    char host[300];          /* HOST:PORT, what the Host header must say */
    char alt_host[300];      /* localhost:PORT when HOST is 127.0.0.1 (or the other way), else "" */
    char cookie_name[32];    /* bay_session_PORT: cookies do not tell ports apart */
    bool secure;
    pthread_mutex_t mtx;
    session sessions[SESSIONS_MAX];
    pending *pending;
    uint64_t next_id;
    stream *streams;
    int nstreams;
    panel_cap *panels;
    size_t npanels;
    int64_t pinged_ms;       /* when the streams were last pinged */
};

/* random_hex writes n random bytes as 2n hex digits and a NUL to out. */
static void random_hex(char *out, size_t n)
{
    unsigned char raw[32];
    randombytes_buf(raw, n);
    sodium_bin2hex(out, 2 * n + 1, raw, n);
}

/* same tells whether a and b (NUL-terminated, a not secret in length) are equal, in constant time for b's bytes. */
static bool same(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n > 0 && strlen(b) == n && sodium_memcmp(a, b, n) == 0;
}

/* ---- answers ---------------------------------------------------------------- */

typedef struct header {
    const char *name, *value;
} header;

/* reply finishes aio with status, body (len bytes, of type) and the headers
 * every answer of the console carries, plus extra (n of them). */
static void reply(nng_aio *aio, uint16_t status, const char *type, const void *body, size_t len, const header *extra,
                  size_t n)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    int rv = nng_http_res_set_status(res, status);
    if (rv == 0 && status == 421) /* NNG 1.5.2 has no name for it */
        rv = nng_http_res_set_reason(res, "Misdirected Request");
    static const header always[] = {
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-store"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
    };
    for (size_t i = 0; rv == 0 && i < sizeof always / sizeof *always; i++)
        rv = nng_http_res_set_header(res, always[i].name, always[i].value);
    for (size_t i = 0; rv == 0 && i < n; i++)
        rv = nng_http_res_set_header(res, extra[i].name, extra[i].value);
    if (rv == 0 && type)
        rv = nng_http_res_set_header(res, "Content-Type", type);
    if (rv == 0)
        rv = nng_http_res_copy_data(res, body ? body : "", body ? len : 0);
    if (rv) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* reply_page answers status with a short HTML page saying text (a console page: its CSP). */
static void reply_page(nng_aio *aio, uint16_t status, const char *text)
{
    char page[1024];
    int n = snprintf(page, sizeof page,
                     "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>plugbay console</title>"
                     "<h1>plugbay console</h1><p>%s</p></html>\n", text);
    const header h[] = {{"Content-Security-Policy", console_csp}, {"X-Frame-Options", "DENY"}};
    reply(aio, status, "text/html; charset=utf-8", page, (size_t)n, h, 2);
}

/* reply_error answers status with {"error": {"code", "message", "plugin"}}. */
static void reply_error(nng_aio *aio, uint16_t status, int code, const char *plugin, const char *message)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:s?}}", "error", "code", bay_errname(code), "message", message, "plugin",
                          plugin);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text == NULL)
        nng_aio_finish(aio, NNG_ENOMEM);
    else
        reply(aio, status, "application/json", text, strlen(text), NULL, 0);
    free(text);
    json_decref(j);
}

/* status_of is the HTTP status of a broker's error code. */
static uint16_t status_of(int code)
{
    switch (code) {
    case BAY_EINVAL: case BAY_EPROTO: case BAY_EMANIFEST: case BAY_ETYPE: return 400;
    case BAY_EPERM: return 403;
    case BAY_ENOENT: case BAY_ENOPROVIDER: return 404;
    case BAY_ESTATE: case BAY_EEXIST: case BAY_EKIND: return 409;
    case BAY_EBUSY: return 429;
    case BAY_EUNAVAIL: return 503;
    case BAY_ETIMEDOUT: return 504;
    default: return 500;
    }
}

/* ---- sessions --------------------------------------------------------------- */

/* cookie_value finds name's value in a Cookie header into out (len bytes); false when absent or too long. */
static bool cookie_value(const char *header, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t end = strcspn(p, ";");
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = end - n - 1;
            if (v >= len)
                return false;
            memcpy(out, p + n + 1, v);
            out[v] = '\0';
            return true;
        }
        p += end;
    }
    return false;
}

/* session_of returns the live session whose cookie req carries (under the mutex), or NULL. */
static session *session_of(console_http *h, nng_http_req *req)
{
    char cookie[65];
    if (!cookie_value(nng_http_req_get_header(req, "Cookie"), h->cookie_name, cookie, sizeof cookie))
        return NULL;
    int64_t now = bay__now_ms();
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        session *s = &h->sessions[i];
        if (s->used && s->active && !s->ended && now < s->expires_ms && same(cookie, s->cookie))
            return s;
    }
    return NULL;
}

int console_http_login(console_http *h, uint64_t conn, const char *who, const char *role, char *url, size_t len,
                       bay_error *err)
{
    pthread_mutex_lock(&h->mtx);
    session *s = NULL;
    for (size_t i = 0; i < SESSIONS_MAX && s == NULL; i++)
        if (!h->sessions[i].used)
            s = &h->sessions[i];
    if (s) {
        *s = (session){.used = true, .conn = conn, .expires_ms = bay__now_ms() + LOGIN_MS};
        random_hex(s->token, 32);
        snprintf(s->who, sizeof s->who, "%s", who);
        snprintf(s->role, sizeof s->role, "%s", role);
        snprintf(url, len, "%s/login?token=%s", h->url, s->token);
    }
    pthread_mutex_unlock(&h->mtx);
    if (s == NULL)
        return bay_error_set(err, BAY_EBUSY, NULL,
                             "the console has %d logins and sessions open, its most; they end when they expire "
                             "(logins after 5 minutes, sessions after 8 hours) or log out", SESSIONS_MAX);
    return 0;
}

/* url_decode decodes s's %XX and '+' in place; false when a % is not followed by two hex digits. */
static bool url_decode(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (*s == '%') {
            char hex[3] = {s[1], s[1] ? s[2] : 0, 0};
            char *end;
            long c = strtol(hex, &end, 16);
            if (end != hex + 2 || hex[0] == '-' || hex[0] == '+' || c == 0)
                return false;
            *out++ = (char)c;
            s += 2;
        } else {
            *out++ = *s == '+' ? ' ' : *s;
        }
    }
    *out = '\0';
    return true;
}

/* query_param copies name's value in query (URL-decoded) into a new string; NULL when absent or malformed. */
static char *query_param(const char *query, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = query; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, name, n) != 0 || p[n] != '=')
            continue;
        char *v = strndup(p + n + 1, strcspn(p + n + 1, "&#"));
        if (v && !url_decode(v)) {
            free(v);
            v = NULL;
        }
        return v;
    }
    return NULL;
}

/* login trades the one-time token in query for a session: its cookie, and a redirect to the console. */
static void login(console_http *h, nng_aio *aio, const char *query)
{
    char *token = query_param(query, "token");
    pthread_mutex_lock(&h->mtx);
    session *s = NULL;
    int64_t now = bay__now_ms();
    for (size_t i = 0; i < SESSIONS_MAX && s == NULL && token; i++) {
        session *c = &h->sessions[i];
        if (c->used && !c->active && !c->ended && now < c->expires_ms && same(token, c->token))
            s = c;
    }
    char cookie[256];
    if (s) {
        s->active = true;
        s->token[0] = '\0';
        s->expires_ms = now + SESSION_MS;
        s->expires_wall_ms = bay__wall_ms() + SESSION_MS;
        random_hex(s->cookie, 32);
        random_hex(s->csrf, 32);
        snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", h->cookie_name,
                 s->cookie, SESSION_MS / 1000, h->secure ? "; Secure" : "");
    }
    pthread_mutex_unlock(&h->mtx);
    free(token);
    if (s == NULL) {
        reply_page(aio, 401, "This login link is not valid: it was used already, expired (links last 5 minutes) or "
                             "was mistyped. Run <code>plugbay console</code> for a new one.");
        return;
    }
    const header hd[] = {{"Set-Cookie", cookie}, {"Location", "/"}};
    reply(aio, 303, "text/plain; charset=utf-8", "logged in\n", 10, hd, 2);
}

/* ---- requests relayed to the broker ---------------------------------------- */

/* session_by_conn returns the session (ended or not) whose connection is conn, or NULL (under the mutex). */
static session *session_by_conn(console_http *h, uint64_t conn)
{
    for (size_t i = 0; i < SESSIONS_MAX; i++)
        if (h->sessions[i].used && h->sessions[i].conn == conn)
            return &h->sessions[i];
    return NULL;
}

/* take unlinks the request *pp from the waiting ones, off its session's count, and returns it (under the mutex). */
static pending *take(console_http *h, pending **pp)
{
    pending *p = *pp;
    session *s = session_by_conn(h, p->conn);
    *pp = p->next;
    if (s)
        s->pending--;
    return p;
}

/* cancel runs when NNG gives up a request waiting for the broker (its browser left, or the server stops). */
static void cancel(nng_aio *aio, void *arg, int rv)
{
    console_http *h = arg;
    pending *found = NULL;
    pthread_mutex_lock(&h->mtx);
    for (pending **pp = &h->pending; *pp && found == NULL; pp = &(*pp)->next)
        if ((*pp)->aio == aio)
            found = take(h, pp);
    pthread_mutex_unlock(&h->mtx);
    if (found) {
        free(found);
        nng_aio_finish(aio, rv);
    }
}

/* relay sends COMMAND name with args (packed; taken) for session s (under the
 * mutex, which it releases) and leaves aio waiting for the answer. */
static void relay(console_http *h, nng_aio *aio, session *s, const char *name, void *args, size_t args_len)
{
    if (s->pending >= PENDING_PER_SESSION) {
        pthread_mutex_unlock(&h->mtx);
        free(args);
        reply_error(aio, 429, BAY_EBUSY, NULL, "this session has 32 requests waiting for plugbayd; wait for them");
        return;
    }
    pending *p = malloc(sizeof *p);
    nng_msg *msg = NULL;
    bay__frame f = {.type = BAY_F_COMMAND, .id = ++h->next_id, .name = name, .raw = args, .raw_len = args_len};
    if (p == NULL || bay__wire_msg(&f, &msg) != 0) {
        pthread_mutex_unlock(&h->mtx);
        free(p);
        free(args);
        reply_error(aio, 500, BAY_ENOMEM, NULL, "plugbayd is out of memory");
        return;
    }
    free(args);
    *p = (pending){aio, s->conn, f.id, bay__now_ms(), h->pending};
    h->pending = p;
    s->pending++;
    uint64_t conn = s->conn;
    nng_aio_defer(aio, cancel, h);
    pthread_mutex_unlock(&h->mtx);
    if (!h->push(h->push_arg, conn, msg))
        cancel(aio, h, NNG_ENOMEM);
}

/* take_pending removes and returns the request of connection conn with id (under the mutex), or NULL. */
static pending *take_pending(console_http *h, uint64_t conn, uint64_t id)
{
    for (pending **pp = &h->pending; *pp; pp = &(*pp)->next)
        if ((*pp)->conn == conn && (*pp)->id == id)
            return take(h, pp);
    return NULL;
}

/* json_of returns f's value as JSON text (nil: "null"), or NULL when it cannot be converted. */
static char *json_of(const bay__frame *f)
{
    bay_value *v = NULL;
    json_t *j = NULL;
    char *text = NULL;
    if (f->value == NULL)
        return strdup("null");
    if (bay__value_from_object(f->value, &v, NULL) == 0 && (j = bay__value_to_jansson(v, NULL)) != NULL)
        text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    bay_value_free(v);
    return text;
}

static void stream_send(stream *st, const char *text, size_t len);

/* broadcast sends event name with data j (taken; NULL when out of memory: nothing is sent) to the event streams of
 * connection conn's session, or to every stream when conn is 0. */
static void broadcast(console_http *h, uint64_t conn, const char *name, json_t *j)
{
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL, *event = NULL;
    int n = data ? asprintf(&event, "event: %s\ndata: %s\n\n", name, data) : -1;
    pthread_mutex_lock(&h->mtx);
    for (stream *st = h->streams; n > 0 && st; st = st->next)
        if (conn == 0 || st->session_conn == conn)
            stream_send(st, event, (size_t)n);
    pthread_mutex_unlock(&h->mtx);
    free(event);
    free(data);
    json_decref(j);
}

void console_http_deliver(console_http *h, uint64_t conn, nng_msg *msg)
{
    bay__frame f;
    if (bay__frame_decode(nng_msg_body(msg), nng_msg_len(msg), &f, NULL) != 0) {
        nng_msg_free(msg);
        return;
    }
    if (f.type == BAY_F_RESULT || f.type == BAY_F_ERROR) {
        pthread_mutex_lock(&h->mtx);
        pending *p = take_pending(h, conn, f.id);
        pthread_mutex_unlock(&h->mtx);
        if (p && f.type == BAY_F_ERROR) {
            reply_error(p->aio, status_of((int)f.code), (int)f.code, f.plugin, f.message ? f.message : "");
        } else if (p) {
            char *result = json_of(&f), *body = NULL;
            if (result && asprintf(&body, "{\"result\":%s}", result) > 0)
                reply(p->aio, 200, "application/json", body, strlen(body), NULL, 0);
            else
                reply_error(p->aio, 500, BAY_ENOMEM, NULL, "plugbayd could not turn the answer into JSON");
            free(result);
            free(body);
        }
        free(p);
    } else if (f.type == BAY_F_NOTICE) {
        broadcast(h, conn, "notice",
                  json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "what", f.what, "name", f.name, "plugin", f.plugin,
                            "state", f.state, "message", f.message));
    }
    bay__frame_release(&f);
    nng_msg_free(msg);
}

/* args_of reads a request's args: its JSON body (an object; none: {}), or for
 * application/octet-stream the object in the query's args= with the body as
 * "data". Packed into *out (len *len), or an error answered. */
static bool args_of(nng_aio *aio, nng_http_req *req, const char *query, void **out, size_t *len)
{
    void *body;
    size_t blen;
    nng_http_req_get_data(req, &body, &blen);
    const char *type = nng_http_req_get_header(req, "Content-Type");
    bool binary = type && strncmp(type, "application/octet-stream", 24) == 0;
    char *text = binary ? query_param(query, "args") : NULL;
    json_error_t je;
    json_t *j = binary ? (text ? json_loads(text, 0, &je) : NULL) : blen ? json_loadb(body, blen, 0, &je) : json_object();
    free(text);
    bay_value *v = NULL;
    bay_error e = {0};
    int rc = j && json_is_object(j) ? bay__value_from_jansson(j, &v, &e) : BAY_EINVAL;
    json_decref(j);
    if (rc == 0 && binary)
        bay_map_set(v, "data", bay_bin(body, blen));
    if (rc == 0 && bay_value_pack(v, out, len) != 0)
        rc = BAY_ENOMEM;
    bay_value_free(v);
    if (rc) {
        reply_error(aio, 400, BAY_EINVAL, NULL,
                    e.message[0] ? e.message
                    : binary     ? "an upload takes its args as a JSON object in the query's args= (URL-encoded)"
                                 : "the body must be a JSON object: the command's args");
        return false;
    }
    return true;
}

/* ---- event streams ---------------------------------------------------------- */

static void stream_write(stream *st);

/* stream_sent runs when a write ends: the next queued bytes go, or the stream is dead (its browser left). */
static void stream_sent(void *arg)
{
    stream *st = arg;
    console_http *h = st->h;
    pthread_mutex_lock(&h->mtx);
    free(st->sending);
    st->sending = NULL;
    st->writing = false;
    if (nng_aio_result(st->aio) != 0)
        st->dead = true;
    else if (st->queued_len && !st->dead)
        stream_write(st);
    pthread_mutex_unlock(&h->mtx);
}

/* stream_write starts writing st's queued bytes (under the mutex). */
static void stream_write(stream *st)
{
    nng_iov iov = {.iov_buf = st->queued, .iov_len = st->queued_len};
    st->sending = st->queued;
    st->queued = NULL;
    st->queued_len = 0;
    st->writing = true;
    nng_aio_set_iov(st->aio, 1, &iov);
    nng_http_conn_write_all(st->conn, st->aio);
}

/* stream_send queues len bytes of text for st (under the mutex); a stream
 * with STREAM_BUFFER_MAX unsent is ended: its browser does not read. */
static void stream_send(stream *st, const char *text, size_t len)
{
    if (st->dead)
        return;
    char *grown = st->queued_len + len > STREAM_BUFFER_MAX ? NULL : realloc(st->queued, st->queued_len + len);
    if (grown == NULL) {
        st->dead = true;
        return;
    }
    memcpy(grown + st->queued_len, text, len);
    st->queued = grown;
    st->queued_len += len;
    if (!st->writing)
        stream_write(st);
}

/* events takes the connection of request req for an event stream of session s (under the mutex, which it releases). */
static void events(console_http *h, nng_aio *aio, nng_http_req *req, session *s)
{
    stream *st = NULL;
    nng_http_conn *conn = nng_aio_get_input(aio, 2);
    if (s->streams >= STREAMS_PER_SESSION || h->nstreams >= STREAMS_MAX) {
        pthread_mutex_unlock(&h->mtx);
        reply_error(aio, 429, BAY_EBUSY, NULL, "too many event streams are open (4 a session, 32 in all)");
        return;
    }
    if ((st = calloc(1, sizeof *st)) == NULL || nng_aio_alloc(&st->aio, stream_sent, st) != 0) {
        pthread_mutex_unlock(&h->mtx);
        free(st);
        reply_error(aio, 500, BAY_ENOMEM, NULL, "plugbayd is out of memory");
        return;
    }
    nng_http_hijack(conn);
    nng_http_req_free(req); /* the hijacker's to free */
    *st = (stream){.h = h, .conn = conn, .aio = st->aio, .session_conn = s->conn, .next = h->streams};
    h->streams = st;
    h->nstreams++;
    s->streams++;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                               "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n: plugbayd\n\n";
    stream_send(st, head, sizeof head - 1);
    pthread_mutex_unlock(&h->mtx);
    nng_aio_finish(aio, 0); /* no answer: the server lets go of the connection */
}

void console_http_line(console_http *h, const char *plugin, const char *line)
{
    broadcast(h, 0, "log", json_pack("{s:s, s:s}", "plugin", plugin, "line", line));
}

/* stream_free closes st's connection and frees it (not under the mutex: its callback may be waiting for it). */
static void stream_free(stream *st)
{
    nng_http_conn_close(st->conn);
    nng_aio_stop(st->aio);
    nng_aio_free(st->aio);
    free(st->sending);
    free(st->queued);
    free(st);
}

/* ---- files ------------------------------------------------------------------- */

/* type_of is the Content-Type of a file named name. */
static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"}, {".webp", "image/webp"},
        {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* asset answers the console's own file path (index.html, app.js, ...), embedded in plugbayd. */
static void asset(nng_aio *aio, const char *path)
{
    for (size_t i = 0; i < bay__console_nassets; i++)
        if (strcmp(bay__console_assets[i].path, path) == 0) {
            const header h[] = {{"Content-Security-Policy", console_csp}, {"X-Frame-Options", "DENY"}};
            reply(aio, 200, type_of(path), bay__console_assets[i].data, bay__console_assets[i].len, h, 2);
            return;
        }
    reply_page(aio, 404, "No such page.");
}

/* safe_path tells whether rel is a plain relative path: [A-Za-z0-9._-] names
 * joined by single '/', none starting with '.'. */
static bool safe_path(const char *rel)
{
    bool start = true;
    if (*rel == '\0')
        return false;
    for (const char *p = rel; *p; p++) {
        bool name = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                    *p == '-' || *p == '.';
        if ((*p == '/' && (start || p[1] == '\0')) || (*p == '.' && start) || (!name && *p != '/'))
            return false;
        start = *p == '/';
    }
    return true;
}

/* panel_file answers GET /p/CAP/REL: the file REL of the panel whose capability CAP is, opened beneath its folder
 * without following any link. */
static void panel_file(console_http *h, nng_aio *aio, const char *rest)
{
    char cap[33] = "", dir[PATH_MAX] = "";
    const char *slash = strchr(rest, '/');
    if (slash && slash - rest == 32) {
        memcpy(cap, rest, 32);
        pthread_mutex_lock(&h->mtx);
        for (size_t i = 0; i < h->npanels; i++)
            if (same(cap, h->panels[i].cap))
                snprintf(dir, sizeof dir, "%s", h->panels[i].dir);
        pthread_mutex_unlock(&h->mtx);
    }
    const char *rel = slash ? slash + 1 : "";
    if (dir[0] == '\0' || !safe_path(rel)) {
        reply(aio, 404, "text/plain; charset=utf-8", "404 not found\n", 14, NULL, 0);
        return;
    }
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd = dfd < 0 ? -1 : (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
    if (dfd >= 0)
        close(dfd);
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    bool ok = fd >= 0 && bay__file_read_fd(fd, PANEL_FILE_MAX, &text, &len, &st) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        reply(aio, 404, "text/plain; charset=utf-8", "404 not found\n", 14, NULL, 0);
        return;
    }
    /* The panel's document is sandboxed without allow-same-origin, so its own scripts and styles are a request
     * from an opaque origin: CORP same-origin (as every other answer has) would block them. The capability in the
     * path is what guards these files. */
    const header hd[] = {{"Content-Security-Policy", panel_csp}, {"Cross-Origin-Resource-Policy", "cross-origin"}};
    reply(aio, 200, type_of(rel), text, len, hd, 2);
    free(text);
}

int console_http_panel_url(console_http *h, const char *plugin, const char *panel, const char *dir, const char *entry,
                           char *url, size_t len)
{
    pthread_mutex_lock(&h->mtx);
    panel_cap *c = NULL;
    for (size_t i = 0; i < h->npanels && c == NULL; i++)
        if (strcmp(h->panels[i].plugin, plugin) == 0 && strcmp(h->panels[i].panel, panel) == 0)
            c = &h->panels[i];
    if (c == NULL && h->npanels < PANELS_MAX) {
        panel_cap *grown = realloc(h->panels, (h->npanels + 1) * sizeof *grown);
        if (grown) {
            h->panels = grown;
            c = &grown[h->npanels++];
            random_hex(c->cap, 16);
            snprintf(c->plugin, sizeof c->plugin, "%s", plugin);
            snprintf(c->panel, sizeof c->panel, "%s", panel);
        }
    }
    if (c) {
        snprintf(c->dir, sizeof c->dir, "%s", dir);
        snprintf(url, len, "%s/p/%s/%s", h->url, c->cap, entry);
    }
    pthread_mutex_unlock(&h->mtx);
    return c ? 0 : BAY_ENOMEM;
}

/* ---- the handler ---------------------------------------------------------------- */

/* host_ok tells whether the request's Host header names the console: over http a page of another site that rebinds
 * its name to this address sends its own; over https such a page cannot pass the certificate's check, so any name
 * the certificate has does. */
static bool host_ok(const console_http *h, const char *host)
{
    return host && (h->secure || strcmp(host, h->host) == 0 || (h->alt_host[0] && strcmp(host, h->alt_host) == 0));
}

/* origin_ok tells whether a POST's Origin, when its browser sent one, is the page's own: the scheme and the Host it
 * was sent to. */
static bool origin_ok(const console_http *h, const char *origin, const char *host)
{
    if (origin == NULL)
        return true;
    char mine[320];
    snprintf(mine, sizeof mine, "%s://%s", h->secure ? "https" : "http", host ? host : "");
    return strcmp(origin, mine) == 0;
}

/* session_json answers GET /api/session for s (under the mutex, which it releases). */
static void session_json(console_http *h, nng_aio *aio, session *s)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "role", s->role, "who", s->who, "csrf", s->csrf, "expires_ms",
                          (json_int_t)s->expires_wall_ms);
    pthread_mutex_unlock(&h->mtx);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text)
        reply(aio, 200, "application/json", text, strlen(text), NULL, 0);
    else
        nng_aio_finish(aio, NNG_ENOMEM);
    free(text);
    json_decref(j);
}

/* post checks a POST of session s (under the mutex): its CSRF token and Origin. Refused: answered, mutex released. */
static bool post_ok(console_http *h, nng_aio *aio, nng_http_req *req, session *s)
{
    const char *csrf = nng_http_req_get_header(req, "X-CSRF-Token");
    if (csrf && same(s->csrf, csrf) &&
        origin_ok(h, nng_http_req_get_header(req, "Origin"), nng_http_req_get_header(req, "Host")))
        return true;
    pthread_mutex_unlock(&h->mtx);
    reply_error(aio, 403, BAY_EPERM, NULL,
                "this request needs the session's CSRF token in X-CSRF-Token (GET /api/session gives it) and, "
                "when the browser sends an Origin, the console's own");
    return false;
}

/* command_name tells whether name is a command's name: [a-z.] and at most 64 bytes. */
static bool command_name(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '.' || name[i] == '_'))
            return false;
    return len > 0 && len <= 64;
}

static void serve(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    console_http *h = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
    const char *uri = nng_http_req_get_uri(req), *method = nng_http_req_get_method(req);
    size_t plen = strcspn(uri, "?#");
    char path[512];
    if (plen >= sizeof path) {
        reply_page(aio, 414, "That address is too long.");
        return;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';
    const char *query = uri[plen] == '?' ? uri + plen + 1 : NULL;
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (!host_ok(h, nng_http_req_get_header(req, "Host"))) {
        reply_page(aio, 421, "This server answers only to its own address (the Host header must name it).");
        return;
    }
    if (!get && !post) {
        const header hd[] = {{"Allow", "GET, POST"}};
        reply(aio, 405, "text/plain; charset=utf-8", "405 method not allowed\n", 23, hd, 1);
        return;
    }
    if (nng_http_req_get_header(req, "Transfer-Encoding") != NULL) { /* NNG's server reads no chunked body */
        reply_error(aio, 411, BAY_EINVAL, NULL, "send the request's body with a Content-Length, not chunked");
        return;
    }
    if (strcmp(path, "/login") == 0 && get) {
        login(h, aio, query);
        return;
    }
    if (strncmp(path, "/p/", 3) == 0 && get) {
        panel_file(h, aio, path + 3);
        return;
    }
    bool api = strncmp(path, "/api/", 5) == 0;
    pthread_mutex_lock(&h->mtx);
    session *s = session_of(h, req);
    if (s == NULL) {
        pthread_mutex_unlock(&h->mtx);
        if (api)
            reply_error(aio, 401, BAY_EPERM, NULL,
                        "no session: run `plugbay console` and open the login link it prints");
        else
            reply_page(aio, 401, "You are not logged in. Run <code>plugbay console</code> and open the link it prints.");
        return;
    }
    if (get && strcmp(path, "/api/session") == 0) {
        session_json(h, aio, s);
    } else if (get && strcmp(path, "/api/events") == 0) {
        events(h, aio, req, s);
    } else if (post && strncmp(path, "/api/command/", 13) == 0 && command_name(path + 13, strlen(path + 13))) {
        void *args;
        size_t len;
        if (post_ok(h, aio, req, s)) {
            pthread_mutex_unlock(&h->mtx); /* args_of converts without it */
            if (args_of(aio, req, query, &args, &len)) {
                pthread_mutex_lock(&h->mtx);
                if ((s = session_of(h, req)) != NULL)
                    relay(h, aio, s, path + 13, args, len);
                else {
                    pthread_mutex_unlock(&h->mtx);
                    free(args);
                    reply_error(aio, 401, BAY_EPERM, NULL, "the session ended");
                }
            }
        }
    } else if (post && strcmp(path, "/logout") == 0) {
        if (post_ok(h, aio, req, s)) {
            s->ended = true;
            pthread_mutex_unlock(&h->mtx);
            char cookie[96];
            snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", h->cookie_name);
            const header hd[] = {{"Set-Cookie", cookie}};
            reply(aio, 200, "application/json", "{\"result\":null}", 15, hd, 1);
        }
    } else {
        pthread_mutex_unlock(&h->mtx);
        if (api)
            reply_error(aio, get || post ? 404 : 405, BAY_ENOENT, NULL, "no such API request");
        else if (get && strcmp(path, "/") == 0)
            asset(aio, "index.html");
        else if (get && strncmp(path, "/assets/", 8) == 0 && strcmp(path + 8, "index.html") != 0)
            asset(aio, path + 8);
        else
            reply_page(aio, 404, "No such page.");
    }
}

/* ---- start, tick, stop ---------------------------------------------------------- */

size_t console_http_tick(console_http *h, uint64_t *ended, size_t max)
{
    int64_t t = bay__now_ms();
    size_t n = 0;
    stream *dead = NULL;
    pending *late = NULL;
    static const char ping[] = ": ping\n\n";
    pthread_mutex_lock(&h->mtx);
    bool do_ping = t - h->pinged_ms >= PING_MS;
    if (do_ping)
        h->pinged_ms = t;
    for (pending **pp = &h->pending; *pp;) {
        if (t - (*pp)->since_ms < PENDING_MS) {
            pp = &(*pp)->next;
            continue;
        }
        pending *p = take(h, pp);
        p->next = late;
        late = p;
    }
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        session *s = &h->sessions[i];
        if (s->used && (s->ended || t >= s->expires_ms))
            s->ended = true;
    }
    for (stream **pp = &h->streams; *pp;) {
        stream *st = *pp;
        session *s = session_by_conn(h, st->session_conn);
        bool gone = s == NULL || s->ended;
        if (do_ping && !gone)
            stream_send(st, ping, sizeof ping - 1);
        if (gone || st->dead) { /* stream_free's close ends a write in progress */
            st->dead = true;
            *pp = st->next;
            h->nstreams--;
            if (s)
                s->streams--;
            st->next = dead;
            dead = st;
        } else {
            pp = &st->next;
        }
    }
    for (size_t i = 0; i < SESSIONS_MAX && n < max; i++) {
        session *s = &h->sessions[i];
        if (s->used && s->ended && s->streams == 0 && s->pending == 0) {
            ended[n++] = s->conn;
            sodium_memzero(s, sizeof *s);
        }
    }
    pthread_mutex_unlock(&h->mtx);
    for (stream *next; dead; dead = next) {
        next = dead->next;
        stream_free(dead);
    }
    for (pending *next; late; late = next) {
        next = late->next;
        reply_error(late->aio, 504, BAY_ETIMEDOUT, NULL, "plugbayd did not answer within 2 minutes");
        free(late);
    }
    return n;
}

/* addresses fills h's URL, the Host headers it takes and its cookie's name from addr (HOST:PORT); false when HOST
 * is not loopback (a name other than localhost, an address outside 127.0.0.0/8 and ::1). */
static bool addresses(console_http *h, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    const char *port = colon ? colon + 1 : "";
    size_t hlen = colon ? (size_t)(colon - addr) : strlen(addr);
    char name[256] = "";
    bool any = (hlen == 7 && strncmp(addr, "0.0.0.0", 7) == 0) || (hlen == 4 && strncmp(addr, "[::]", 4) == 0);
    if (any && gethostname(name, sizeof name) == 0) /* every address: links name this machine */
        snprintf(h->url, sizeof h->url, "%s://%s:%s", h->secure ? "https" : "http", name, port);
    else
        snprintf(h->url, sizeof h->url, "%s://%s", h->secure ? "https" : "http", addr);
    snprintf(h->host, sizeof h->host, "%s", addr);
    snprintf(h->cookie_name, sizeof h->cookie_name, "bay_session_%.8s", port);
    bool local = (hlen == 9 && strncmp(addr, "localhost", 9) == 0) || strncmp(addr, "127.", 4) == 0 ||
                 (hlen == 5 && strncmp(addr, "[::1]", 5) == 0);
    if (hlen == 9 && strncmp(addr, "localhost", 9) == 0)
        snprintf(h->alt_host, sizeof h->alt_host, "127.0.0.1:%s", port);
    else if (strncmp(addr, "127.0.0.1:", 10) == 0)
        snprintf(h->alt_host, sizeof h->alt_host, "localhost:%s", port);
    return local;
}

int console_http_start(const char *addr, const char *cert, console_push_fn push, void *arg, console_http **out,
                       bay_error *err)
{
    console_http *h = calloc(1, sizeof *h);
    if (h == NULL || sodium_init() < 0) {
        free(h);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&h->mtx, NULL);
    h->push = push;
    h->push_arg = arg;
    h->secure = cert != NULL;
    int rc = 0, rv;
    if (!addresses(h, addr) && cert == NULL)
        rc = bay_error_set(err, BAY_EINVAL, NULL,
                           "--console %s: the console serves a loopback address (127.0.0.1:PORT, localhost:PORT, "
                           "[::1]:PORT) unless it has a certificate: add --console-cert FILE (a PEM file with the "
                           "certificate and its key)", addr);
    if (rc == 0 && cert &&
        ((rv = nng_tls_config_alloc(&h->tls, NNG_TLS_MODE_SERVER)) != 0 ||
         (rv = nng_tls_config_cert_key_file(h->tls, cert, NULL)) != 0))
        rc = bay_error_set(err, BAY_EINVAL, NULL, "--console-cert %s: cannot use it: %s (a PEM file with the "
                                                  "certificate and its private key)", cert, nng_strerror(rv));
    if (rc == 0)
        rc = httpd_start("--console", addr, h->tls, BODY_MAX, serve, h, &h->server, err);
    if (rc) {
        console_http_stop(h);
        return rc;
    }
    *out = h;
    return 0;
}

const char *console_http_url(const console_http *h)
{
    return h->url;
}

void console_http_stop(console_http *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mtx);
    pending *p = h->pending;
    stream *st = h->streams;
    for (stream *s = st; s; s = s->next)
        s->dead = true;
    h->pending = NULL;
    h->streams = NULL;
    pthread_mutex_unlock(&h->mtx);
    for (pending *next; p; p = next) {
        next = p->next;
        reply_error(p->aio, 503, BAY_EUNAVAIL, NULL, "plugbayd is stopping");
        free(p);
    }
    for (stream *next; st; st = next) {
        next = st->next;
        stream_free(st);
    }
    httpd_stop(h->server);
    if (h->tls)
        nng_tls_config_free(h->tls);
    sodium_memzero(h->sessions, sizeof h->sessions);
    free(h->panels);
    pthread_mutex_destroy(&h->mtx);
    free(h);
}
