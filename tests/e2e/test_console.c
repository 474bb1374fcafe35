/* tests/e2e/test_console.c — the web console's HTTP side (--console) against a real plugbayd, through libcurl: logins, sessions, CSRF, Host and Origin, the relayed commands and their refusals, live events, what stops the start. The browser's side is tests/console/. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "harness.h"

static harness h;
static char addr[32];   /* 127.0.0.1:PORT given to --console */
static char origin[64]; /* http://127.0.0.1:PORT */

static const char *const ids[] = {"example/hello", "example/lua-hello", "example/greeter-ui", NULL};

#define OTHER_UID "65534" /* nobody: an observer */
#define SETPRIV "/usr/bin/setpriv"

static void start(void)
{
    h_setup(&h, ids);
    h_free_port(addr, sizeof addr);
    snprintf(origin, sizeof origin, "http://%s", addr);
    /* The public socket where another user can reach it (as in test_roles). */
    char pub[320];
    snprintf(pub, sizeof pub, "%s/plugbay", h.dir);
    cr_assert_eq(chmod(h.dir, 0711), 0);
    cr_assert_eq(mkdir(pub, 0755), 0);
    snprintf(h.url, sizeof h.url, "ipc://%s/plugbayd.sock", pub);
    h_start_loaded(&h, (const char *const[]){"--listen", h.url, "--console", addr, NULL}, ids);
}

static void stop(void)
{
    h_cleanup(&h);
}

TestSuite(console, .init = start, .fini = stop, .timeout = 120);

/* One HTTP exchange. */
typedef struct exchange {
    const char *method, *path, *cookie, *csrf, *host, *origin, *type, *body;
    const char *base, *ca; /* another console's address and the authority its certificate comes from, or NULL */
    bool chunked;          /* the body sent chunked */
    long status;
    char out[65536], headers[8192];
    size_t out_len, headers_len;
} exchange;

/* keep appends len bytes of data to buf (cap bytes, *used of them used), NUL-terminated, as far as they fit. */
static size_t keep(char *buf, size_t cap, size_t *used, const char *data, size_t len)
{
    size_t room = cap - 1 - *used, n = len < room ? len : room;
    memcpy(buf + *used, data, n);
    *used += n;
    buf[*used] = '\0';
    return len;
}

static size_t keep_body(char *data, size_t size, size_t n, void *arg)
{
    exchange *x = arg;
    return keep(x->out, sizeof x->out, &x->out_len, data, size * n);
}

static size_t keep_header(char *data, size_t size, size_t n, void *arg)
{
    exchange *x = arg;
    return keep(x->headers, sizeof x->headers, &x->headers_len, data, size * n);
}

/* http makes exchange x with the console and fills its status, body and headers. */
static void http(exchange *x)
{
    CURL *c = curl_easy_init();
    char url[600], line[4][600];
    struct curl_slist *hd = NULL;
    snprintf(url, sizeof url, "%s%s", x->base ? x->base : origin, x->path);
    if (x->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, x->ca);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method ? x->method : "GET");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)H_WAIT_MS);
    if (x->cookie)
        curl_easy_setopt(c, CURLOPT_COOKIE, x->cookie);
    const char *names[4] = {"X-CSRF-Token", "Host", "Origin", "Content-Type"};
    const char *values[4] = {x->csrf, x->host, x->origin, x->type};
    for (int i = 0; i < 4; i++)
        if (values[i]) {
            snprintf(line[i], sizeof line[i], "%s: %s", names[i], values[i]);
            hd = curl_slist_append(hd, line[i]);
        }
    if (x->chunked)
        hd = curl_slist_append(hd, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    if (x->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
    }
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s %s", x->method ? x->method : "GET", x->path);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
}

/* login_link_as runs `plugbay console` (as the other user when other) and returns the path of the link it printed
 * (/login?token=...). */
static void login_link_as(bool other, char *path, size_t len)
{
    char out[2048], err[2048];
    const char *argv[] = {SETPRIV, "--reuid=" OTHER_UID, "--regid=" OTHER_UID, "--clear-groups",
                          BAY_BIN_DIR "/plugbay", "--broker", h.url, "console", NULL};
    int rc = other ? h_run(&h, argv, out, sizeof out, err, sizeof err)
                   : h_plugbay(&h, (const char *const[]){"console", NULL}, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    const char *at = strstr(out, origin);
    cr_assert(at, "no link to %s in: %s", origin, out);
    snprintf(path, len, "%.*s", (int)strcspn(at + strlen(origin), "\n"), at + strlen(origin));
}

static void login_link(char *path, size_t len)
{
    login_link_as(false, path, len);
}

/* session_as logs in with a new link of the other user's (other) or plugbayd's own: the cookie to send
 * (NAME=VALUE) and the session's CSRF token; role is the one the session must have. */
static void session_as(bool other, const char *role, char *cookie, size_t clen, char *csrf, size_t slen)
{
    char path[256];
    login_link_as(other, path, sizeof path);
    exchange x = {.path = path};
    http(&x);
    cr_assert_eq(x.status, 303, "%s", x.out);
    const char *set = strstr(x.headers, "Set-Cookie: ");
    cr_assert(set);
    snprintf(cookie, clen, "%.*s", (int)strcspn(set + 12, ";"), set + 12);
    cr_expect(strstr(set, "HttpOnly") && strstr(set, "SameSite=Strict") && strstr(set, "Max-Age=28800"), "%s", set);
    exchange s = {.path = "/api/session", .cookie = cookie};
    http(&s);
    cr_assert_eq(s.status, 200, "%s", s.out);
    json_t *j = json_loads(s.out, 0, NULL);
    cr_assert(j);
    snprintf(csrf, slen, "%s", json_string_value(json_object_get(j, "csrf")));
    cr_expect_str_eq(json_string_value(json_object_get(j, "role")), role);
    json_decref(j);
}

static void session(char *cookie, size_t clen, char *csrf, size_t slen)
{
    session_as(false, "admin", cookie, clen, csrf, slen);
}

/* command posts /api/command/NAME with body as a session would. */
static void command(exchange *x, const char *cookie, const char *csrf, const char *name, const char *body)
{
    static char path[128];
    snprintf(path, sizeof path, "/api/command/%s", name);
    *x = (exchange){.method = "POST", .path = path, .cookie = cookie, .csrf = csrf, .body = body,
                    .type = "application/json"};
    http(x);
}

/* still_serving: plugbayd answers hosts, whatever the console was sent. */
static void still_serving(void)
{
    bay_conn *c = h_connect(&h, "after");
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "x", 5000, out, sizeof out, NULL), 0);
    bay_close(c);
}

/* hello_still_loaded: example/hello was not disabled, whatever the console was sent. */
static void hello_still_loaded(void)
{
    char state[32];
    bay_conn *c = h_connect(&h, "check");
    h_plugin_state(c, "example/hello", state, sizeof state, NULL, 0);
    cr_expect_str_eq(state, "loaded");
    bay_close(c);
}

Test(console, a_login_link_opens_one_session_once_and_the_session_runs_commands)
{
    char cookie[128], csrf[80], path[256];
    session(cookie, sizeof cookie, csrf, sizeof csrf);
    exchange x;
    command(&x, cookie, csrf, "list", "{}");
    cr_assert_eq(x.status, 200, "%s", x.out);
    cr_expect(strstr(x.out, "\"id\":\"example/hello\""), "%s", x.out);
    command(&x, cookie, csrf, "info", "{\"id\": \"example/hello\"}");
    cr_expect_eq(x.status, 200, "%s", x.out);
    /* The broker's own errors come back with their code, message and plugin. */
    command(&x, cookie, csrf, "info", "{\"id\": \"no/such\"}");
    cr_expect_eq(x.status, 404, "%s", x.out);
    cr_expect(strstr(x.out, "\"code\":\"BAY_ENOENT\"") && strstr(x.out, "no plugin \\\"no/such\\\""), "%s", x.out);
    command(&x, cookie, csrf, "nosuchcommand", "{}");
    cr_expect_eq(x.status, 404, "%s", x.out);
    /* A link works once. */
    login_link(path, sizeof path);
    exchange first = {.path = path}, again = {.path = path};
    http(&first);
    http(&again);
    cr_expect_eq(first.status, 303);
    cr_expect_eq(again.status, 401, "%s", again.out);
    cr_expect(strstr(again.out, "plugbay console"), "%s", again.out);
    cr_expect(h_wait_log(&h, "console: a login link for a session of role admin"));
}

Test(console, nothing_without_a_session_or_with_a_forged_one)
{
    const char *paths[] = {"/", "/assets/app.js", "/api/session", "/api/events", "/login", "/login?token=x",
                           "/login?token=0000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        exchange x = {.path = paths[i], .cookie = i % 2 ? "bay_session_1=forged" : NULL};
        http(&x);
        cr_expect_eq(x.status, 401, "GET %s: %ld %s", paths[i], x.status, x.out);
    }
    char cookie[160];
    snprintf(cookie, sizeof cookie, "bay_session_%s=%064d", strchr(addr, ':') + 1, 0);
    exchange x;
    command(&x, cookie, "0", "list", "{}");
    cr_expect_eq(x.status, 401, "%s", x.out);
    cr_expect(strstr(x.out, "run `plugbay console`"), "%s", x.out);
    still_serving();
}

Test(console, a_post_needs_the_sessions_csrf_token_and_origin)
{
    char cookie[128], csrf[80];
    session(cookie, sizeof cookie, csrf, sizeof csrf);
    exchange x;
    command(&x, cookie, NULL, "disable", "{\"id\": \"example/hello\"}");
    cr_expect_eq(x.status, 403, "%s", x.out);
    cr_expect(strstr(x.out, "CSRF"), "%s", x.out);
    command(&x, cookie, "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef", "disable",
            "{\"id\": \"example/hello\"}");
    cr_expect_eq(x.status, 403, "%s", x.out);
    x = (exchange){.method = "POST", .path = "/api/command/disable", .cookie = cookie, .csrf = csrf,
                   .origin = "http://evil.example", .body = "{\"id\": \"example/hello\"}"};
    http(&x);
    cr_expect_eq(x.status, 403, "%s", x.out);
    /* Nothing was disabled: */
    hello_still_loaded();
    /* The page's own Origin passes. */
    x = (exchange){.method = "POST", .path = "/api/command/list", .cookie = cookie, .csrf = csrf, .origin = origin,
                   .body = "{}"};
    http(&x);
    cr_expect_eq(x.status, 200, "%s", x.out);
}

Test(console, bad_requests_get_clear_answers)
{
    char cookie[128], csrf[80];
    session(cookie, sizeof cookie, csrf, sizeof csrf);
    exchange x;
    command(&x, cookie, csrf, "list", "[1, 2]");
    cr_expect_eq(x.status, 400, "%s", x.out);
    cr_expect(strstr(x.out, "JSON object"), "%s", x.out);
    command(&x, cookie, csrf, "list", "{not json");
    cr_expect_eq(x.status, 400, "%s", x.out);
    x = (exchange){.method = "POST", .path = "/api/command/package.put?args=%7Bbad", .cookie = cookie, .csrf = csrf,
                   .type = "application/octet-stream", .body = "bytes"};
    http(&x);
    cr_expect_eq(x.status, 400, "%s", x.out);
    x = (exchange){.method = "POST", .path = "/api/command/..%2Flist", .cookie = cookie, .csrf = csrf, .body = "{}"};
    http(&x);
    cr_expect_eq(x.status, 404, "%s", x.out);
    x = (exchange){.method = "POST", .path = "/api/command/info", .cookie = cookie, .csrf = csrf, .chunked = true,
                   .body = "{\"id\": \"example/hello\"}"};
    http(&x);
    cr_expect_eq(x.status, 411, "a chunked body is refused, not read as {}: %s", x.out);
    x = (exchange){.method = "DELETE", .path = "/api/session", .cookie = cookie};
    http(&x);
    cr_expect_eq(x.status, 405, "%s", x.out);
    /* A page of another site that rebinds its name to 127.0.0.1 sends its own Host. */
    x = (exchange){.path = "/api/session", .cookie = cookie, .host = "evil.example:80"};
    http(&x);
    cr_expect_eq(x.status, 421, "%s", x.out);
    x = (exchange){.path = "/p/00000000000000000000000000000000/index.html"};
    http(&x);
    cr_expect_eq(x.status, 404, "%s", x.out);
    x = (exchange){.path = "/p/../../etc/passwd"};
    http(&x);
    cr_expect_eq(x.status, 404, "%s", x.out);
    still_serving();
}

Test(console, logging_out_ends_the_session_and_its_connection)
{
    char cookie[128], csrf[80];
    session(cookie, sizeof cookie, csrf, sizeof csrf);
    exchange x = {.method = "POST", .path = "/logout", .cookie = cookie, .csrf = csrf};
    http(&x);
    cr_expect_eq(x.status, 200, "%s", x.out);
    x = (exchange){.path = "/api/session", .cookie = cookie};
    http(&x);
    cr_expect_eq(x.status, 401, "%s", x.out);
    cr_expect(h_wait_log(&h, "[console:plugbay-cli] disconnected"));
}

/* The event stream, read on a thread of its own until it holds a needle. */
typedef struct listener {
    exchange x;
    const char *needles[2];
    atomic_bool opened; /* its first bytes came */
    bool found;
} listener;

static size_t listen_body(char *data, size_t size, size_t n, void *arg)
{
    listener *l = arg;
    keep_body(data, size, n, &l->x);
    atomic_store(&l->opened, true);
    l->found = strstr(l->x.out, l->needles[0]) && strstr(l->x.out, l->needles[1]);
    return l->found ? 0 : size * n; /* found: end the transfer */
}

static bool opened(void *arg)
{
    return atomic_load(&((listener *)arg)->opened);
}

static void *listen_events(void *arg)
{
    listener *l = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/api/events", origin);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_COOKIE, l->x.cookie);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, listen_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)H_WAIT_MS);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    return NULL;
}

Test(console, events_tell_of_state_changes_and_log_lines_as_they_happen)
{
    char cookie[128], csrf[80];
    session(cookie, sizeof cookie, csrf, sizeof csrf);
    listener l = {.x = {.cookie = cookie},
                  .needles = {"\"state\":\"disabled\"", "event: log\ndata: {\"plugin\":\"example/lua-hello\""}};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, listen_events, &l), 0);
    cr_assert(h_wait_until(opened, &l, H_WAIT_MS));
    exchange x;
    command(&x, cookie, csrf, "disable", "{\"id\": \"example/lua-hello\"}");
    cr_expect_eq(x.status, 200, "%s", x.out);
    pthread_join(t, NULL);
    cr_expect(l.found, "the stream: %s", l.x.out);
    cr_expect(strstr(l.x.out, "event: notice\ndata: {\"what\":\"plugin-state\""), "%s", l.x.out);
}

Test(console, an_observers_session_looks_but_changes_nothing)
{
    if (geteuid() != 0 || access(SETPRIV, X_OK) != 0)
        cr_skip_test("acting as a second local user needs root and %s", SETPRIV);
    char out[2048], err[2048], cookie[128], csrf[80];
    cr_assert_eq(h_plugbay(&h, (const char *const[]){"host", "add", "watcher", "--uid", OTHER_UID, "--role",
                                                     "observer", NULL}, out, sizeof out, err, sizeof err), 0, "%s", err);
    session_as(true, "observer", cookie, sizeof cookie, csrf, sizeof csrf);
    exchange x;
    command(&x, cookie, csrf, "status", "{}");
    cr_expect_eq(x.status, 200, "an observer looks: %s", x.out);
    command(&x, cookie, csrf, "disable", "{\"id\": \"example/hello\"}");
    cr_expect_eq(x.status, 403, "%s", x.out);
    cr_expect(strstr(x.out, "(uid " OTHER_UID ", role observer) may not run disable: it needs role admin"), "%s", x.out);
    command(&x, cookie, csrf, "config", "{\"id\": \"example/hello\", \"set\": {\"greeting\": \"Hi\"}}");
    cr_expect_eq(x.status, 403, "%s", x.out);
    command(&x, cookie, csrf, "console", "{}");
    cr_expect_eq(x.status, 403, "a session makes no login links: %s", x.out);
    command(&x, cookie, csrf, "install.index", "{\"id\": \"example/hello\", \"grant_all\": true}");
    cr_expect_eq(x.status, 403, "%s", x.out);
    cr_expect(strstr(x.out, "(uid " OTHER_UID ", role observer) may not run install.index: it needs role admin"), "%s",
              x.out);
    command(&x, cookie, csrf, "index.list", "{}"); /* an observer looks; this plugbayd follows no index */
    cr_expect(strstr(x.out, "plugbayd follows no index: start it with --index URL"), "%s", x.out);
    hello_still_loaded();
    cr_expect(h_wait_log(&h, "[audit] console:plugbay-cli (uid " OTHER_UID ", role observer): disable"));
}

Test(console, what_stops_the_start_and_a_console_that_is_not_there)
{
    char out[2048], err[2048];
    harness other;
    h_setup(&other, (const char *const[]){NULL});
    const struct {
        const char *words[6];
        int status;
        const char *needle;
    } cases[] = {
        {{"--console", "0.0.0.0:8080", NULL}, 1, "the console serves a loopback address"},
        {{"--console", "192.168.1.1:8080", NULL}, 1, "unless it has a certificate: add --console-cert FILE"},
        {{"--console", "127.0.0.1", NULL}, 1, "--console 127.0.0.1: not an address to serve on"},
        {{"--console", "127.0.0.1:0", NULL}, 1, "not an address to serve on"},
        {{"--console", addr, NULL}, 1, "another program listens on that port"}, /* the running plugbayd's */
        {{"--console-cert", "/etc/hostname", NULL}, 2, "--console-cert goes with --console HOST:PORT"},
        {{"--console", "127.0.0.1:1", "--console-cert", "/no/such.pem", NULL}, 1, "--console-cert /no/such.pem: cannot"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *argv[12] = {BAY_BIN_DIR "/plugbayd", "--state", other.state, "--plugins", other.plugins};
        size_t n = 5;
        for (size_t j = 0; cases[i].words[j]; j++)
            argv[n++] = cases[i].words[j];
        argv[n] = NULL;
        int status = h_run(&other, argv, out, sizeof out, err, sizeof err);
        cr_expect_eq(status, cases[i].status, "case %zu: exit %d: %s", i, status, err);
        cr_expect(strstr(err, cases[i].needle), "case %zu lacks \"%s\": %s", i, cases[i].needle, err);
    }
    h_cleanup(&other);
    /* A plugbayd without --console says how to get one. */
    h_stop(&h);
    h_start(&h, (const char *const[]){"--listen", h.url, NULL});
    cr_expect_eq(h_plugbay(&h, (const char *const[]){"console", NULL}, out, sizeof out, err, sizeof err), 1);
    cr_expect(strstr(err, "plugbayd serves no web console: start it with --console 127.0.0.1:PORT"), "%s", err);
}

/* panel_path writes to path the path (/p/CAP/index.html) of example/greeter-ui's panel as the console lists it. */
static void panel_path(const char *cookie, const char *csrf, char *path, size_t len)
{
    exchange x;
    command(&x, cookie, csrf, "panels", "{\"id\": \"example/greeter-ui\", \"locale\": \"fr_FR\"}");
    cr_assert_eq(x.status, 200, "%s", x.out);
    cr_assert(strstr(x.out, "\"title\":\"Salueur\""), "%s", x.out);
    const char *at = strstr(x.out, origin);
    cr_assert(at, "no url on this console: %s", x.out);
    at += strlen(origin);
    snprintf(path, len, "%.*s", (int)strcspn(at, "\""), at);
    cr_assert(strncmp(path, "/p/", 3) == 0 && strstr(path, "/index.html"), "%s", path);
}

Test(console, a_panel_is_served_sandboxed_under_its_capability_and_calls_its_own_plugin_only)
{
    char cookie[128], csrf[80], path[256], other[300];
    session(cookie, sizeof cookie, csrf, sizeof csrf);
    panel_path(cookie, csrf, path, sizeof path);
    exchange x = {.path = path}; /* no cookie: a sandboxed frame sends none */
    http(&x);
    cr_expect_eq(x.status, 200, "%s", x.out);
    cr_expect(strstr(x.headers, "Content-Security-Policy: sandbox allow-scripts allow-forms; default-src 'none'") &&
              strstr(x.headers, "connect-src 'none'"), "%s", x.headers);
    cr_expect(strstr(x.headers, "Content-Type: text/html"), "%s", x.headers);
    /* Its folder's files, and nothing else: no way up, no hidden file, no link followed. */
    char link[400];
    snprintf(link, sizeof link, "%s/example/greeter-ui/ui/leak.json", h.plugins);
    cr_assert_eq(symlink("../plugin.json", link), 0);
    const char *tails[] = {"panel.js", "../plugin.json", "..%2Fplugin.json", ".hidden", "leak.json", "", "ui//x"};
    const long want[] = {200, 404, 404, 404, 404, 404, 404};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        snprintf(other, sizeof other, "%.*s%s", (int)(strrchr(path, '/') + 1 - path), path, tails[i]);
        x = (exchange){.path = other};
        http(&x);
        cr_expect_eq(x.status, want[i], "GET %s: %ld", other, x.status);
    }
    /* The console relays a panel's call to its own plugin's handle, and refuses another's. */
    command(&x, cookie, csrf, "panel.call",
            "{\"id\": \"example/greeter-ui\", \"name\": \"greeter.greet\", \"args\": [\"panel\"]}");
    cr_expect_eq(x.status, 200, "%s", x.out);
    command(&x, cookie, csrf, "panel.call", "{\"id\": \"example/greeter-ui\", \"name\": \"greet\", \"args\": [\"x\"]}");
    cr_expect_eq(x.status, 403, "%s", x.out);
    cr_expect(strstr(x.out, "BAY_EPERM"), "%s", x.out);
    /* The capability is the same each time it is listed. */
    char again[256];
    panel_path(cookie, csrf, again, sizeof again);
    cr_expect_str_eq(again, path);
}

Test(console, over_https_with_its_certificate_on_any_address)
{
    char pki[400], cert[450], ca[450], port[16], base[64], out[2048], err[2048];
    snprintf(pki, sizeof pki, "%s/pki", h.dir);
    const char *argv[] = {BAY_SCRIPTS_DIR "/tls-pki", pki, "localhost", "client", "--days", "2", NULL};
    cr_assert_eq(h_run(&h, argv, NULL, 0, err, sizeof err), 0, "tls-pki: %s", err);
    snprintf(cert, sizeof cert, "%s/server.pem", pki);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    snprintf(port, sizeof port, "%s", strchr(addr, ':') + 1);
    char any[32];
    snprintf(any, sizeof any, "0.0.0.0:%s", port);
    h_stop(&h);
    h_start(&h, (const char *const[]){"--listen", h.url, "--console", any, "--console-cert", cert, NULL});
    cr_assert_eq(h_plugbay(&h, (const char *const[]){"console", NULL}, out, sizeof out, err, sizeof err), 0, "%s", err);
    const char *link = strstr(out, "https://"), *path = link ? strstr(link, "/login?token=") : NULL;
    cr_assert(path, "no https link: %s", out);
    char login[128];
    snprintf(login, sizeof login, "%.*s", (int)strcspn(path, "\n"), path);
    snprintf(base, sizeof base, "https://localhost:%s", port);
    exchange x = {.base = base, .ca = ca, .path = login};
    http(&x);
    cr_assert_eq(x.status, 303, "%s", x.out);
    const char *set = strstr(x.headers, "Set-Cookie: ");
    cr_assert(set && strstr(set, "; Secure"), "%s", x.headers);
    char cookie[128];
    snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(set + 12, ";"), set + 12);
    x = (exchange){.base = base, .ca = ca, .path = "/api/session", .cookie = cookie};
    http(&x);
    cr_expect_eq(x.status, 200, "%s", x.out);
    /* Over https the name the certificate has is the page's own Origin. */
    json_t *j = json_loads(x.out, 0, NULL);
    char origin_https[80];
    snprintf(origin_https, sizeof origin_https, "https://localhost:%s", port);
    x = (exchange){.base = base, .ca = ca, .method = "POST", .path = "/api/command/list", .cookie = cookie,
                   .csrf = json_string_value(json_object_get(j, "csrf")), .origin = origin_https, .body = "{}"};
    http(&x);
    cr_expect_eq(x.status, 200, "%s", x.out);
    x.origin = "https://evil.example";
    x.out_len = x.headers_len = 0;
    http(&x);
    cr_expect_eq(x.status, 403, "%s", x.out);
    json_decref(j);
}
