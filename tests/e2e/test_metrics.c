/* tests/e2e/test_metrics.c — /metrics read by Prometheus's own parser, its bearer token, plugbay stats and metrics against a real plugbayd. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

static harness h;
static char addr[32]; /* 127.0.0.1:PORT given to --metrics */

static const char *const ids[] = {"example/hello", "example/audit", NULL};

static void start(void)
{
    h_setup(&h, ids);
    h_free_port(addr, sizeof addr);
    h_start_loaded(&h, (const char *const[]){"--metrics", addr, NULL}, ids);
}

static void stop(void)
{
    h_cleanup(&h);
}

TestSuite(metrics, .init = start, .fini = stop, .timeout = 90);

typedef struct output {
    int status;
    char out[65536], err[4096];
} output;

/* plugbay runs the CLI against h's plugbayd with words. */
static void plugbay(output *o, const char *const *words)
{
    o->status = h_plugbay(&h, words, o->out, sizeof o->out, o->err, sizeof o->err);
}

/* token reads the token plugbayd wrote to STATE/metrics.token into tok. */
static void token(char *tok, size_t len)
{
    char path[400];
    snprintf(path, sizeof path, "%s/metrics.token", h.state);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    cr_assert_not_null(fgets(tok, (int)len, f));
    fclose(f);
    tok[strcspn(tok, "\n")] = '\0';
}

/* scrape asks plugbayd's /metrics server for path with method, bearing tok
 * (NULL: no Authorization), through curl(1); the body goes to DIR/body, the
 * headers to DIR/headers. Returns the HTTP status. */
static int scrape(const char *method, const char *path, const char *tok)
{
    char url[128], auth[400], body[400], headers[400];
    snprintf(url, sizeof url, "http://%s%s", addr, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok ? tok : "");
    snprintf(body, sizeof body, "%s/body", h.dir);
    snprintf(headers, sizeof headers, "%s/headers", h.dir);
    const char *argv[] = {"/usr/bin/curl", "-s", "-X", method, "-o", body, "-D", headers, "-w", "%{http_code}",
                          "-H", tok ? auth : "X-None: 1", url, NULL};
    char out[32];
    cr_assert_eq(h_run(&h, argv, out, sizeof out, NULL, 0), 0, "curl failed on %s", url);
    return atoi(out);
}

/* file_has tells whether the file DIR/name holds needle. */
static bool file_has(const char *name, const char *needle)
{
    char path[400], text[16384] = "";
    snprintf(path, sizeof path, "%s/%s", h.dir, name);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* parsed runs parse_metrics.py, Prometheus's own parser, on DIR/body; returns its JSON (the caller frees). */
static json_t *parsed(void)
{
    static output o;
    char body[400];
    snprintf(body, sizeof body, "%s/body", h.dir);
    const char *argv[] = {"/usr/bin/python3.11", BAY_PARSE_METRICS, body, NULL};
    o.status = h_run(&h, argv, o.out, sizeof o.out, o.err, sizeof o.err);
    cr_assert_eq(o.status, 0, "the parser refused the text: %s", o.err);
    json_error_t jerr;
    json_t *j = json_loads(o.out, 0, &jerr);
    cr_assert_not_null(j, "not JSON (%s): %s", jerr.text, o.out);
    return j;
}

/* value returns the sample name{plugin=plugin[, key=val]} (plugin NULL: no
 * plugin label), or -1 when there is none. */
static double value(json_t *j, const char *name, const char *plugin, const char *key, const char *val)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "samples"), i, s)
    {
        json_t *labels = json_object_get(s, "labels");
        const char *p = json_string_value(json_object_get(labels, "plugin"));
        const char *v = key ? json_string_value(json_object_get(labels, key)) : NULL;
        if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0 &&
            (plugin ? p && strcmp(p, plugin) == 0 : p == NULL) && (key == NULL || (v && strcmp(v, val) == 0)))
            return json_number_value(json_object_get(s, "value"));
    }
    return -1;
}

/* call runs `plugbay call NAME ARGS` (always routed by plugbayd: the CLI takes no fast channel), expecting code. */
static void call(const char *name, const char *args, int code)
{
    output o;
    plugbay(&o, (const char *const[]){"call", name, args, NULL});
    cr_assert_eq(o.status, code ? 1 : 0, "call %s %s: %s", name, args, o.err);
}

/* make_calls makes 4 calls served by example/hello, 3 by example/audit and 2 that audit fails with BAY_ETYPE. */
static void make_calls(void)
{
    for (int i = 0; i < 4; i++)
        call("greet", "[\"metrics\"]", 0);
    for (int i = 0; i < 3; i++)
        call("math.add", "[1, 2]", 0);
    for (int i = 0; i < 2; i++)
        call("math.add", "[1, \"x\"]", BAY_ETYPE);
}

/* counted waits until /metrics (rendered once a second) counts the calls make_calls made; returns the parse. */
static json_t *counted(const char *tok)
{
    long long deadline = h_now_ms() + H_WAIT_MS;
    for (;;) {
        cr_assert_eq(scrape("GET", "/metrics", tok), 200);
        json_t *j = parsed();
        if (value(j, "plugbay_plugin_calls_total", "example/hello", NULL, NULL) == 4 &&
            value(j, "plugbay_plugin_calls_total", "example/audit", NULL, NULL) == 5)
            return j;
        cr_assert_lt(h_now_ms(), deadline, "/metrics never counted the calls: hello %g, audit %g",
                     value(j, "plugbay_plugin_calls_total", "example/hello", NULL, NULL),
                     value(j, "plugbay_plugin_calls_total", "example/audit", NULL, NULL));
        json_decref(j);
        usleep(100000);
    }
}

/* expect_histogram checks plugin's call-time histogram: cumulative buckets, +Inf == _count == calls. */
static void expect_histogram(json_t *j, const char *plugin, double calls)
{
    static const char *const le[] = {"1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                     "0.005", "0.01",  "0.05",    "0.25",  "1",      "10",      "+Inf"};
    double before = 0;
    for (size_t i = 0; i < sizeof le / sizeof *le; i++) {
        double n = value(j, "plugbay_plugin_call_duration_seconds_bucket", plugin, "le", le[i]);
        cr_expect_geq(n, before, "%s: bucket le=%s holds %g, fewer than the one before (%g)", plugin, le[i], n, before);
        before = n;
    }
    cr_expect_eq(before, calls, "%s: +Inf holds %g, not %g", plugin, before, calls);
    cr_expect_eq(value(j, "plugbay_plugin_call_duration_seconds_count", plugin, NULL, NULL), calls);
    cr_expect_gt(value(j, "plugbay_plugin_call_duration_seconds_sum", plugin, NULL, NULL), 0);
}

Test(metrics, prometheus_parses_every_plugins_counters)
{
    char tok[300];
    token(tok, sizeof tok);
    make_calls();
    json_t *j = counted(tok);
    json_t *families = json_object_get(j, "families");
    cr_expect_str_eq(json_string_value(json_object_get(families, "plugbay_plugin_calls")), "counter");
    cr_expect_str_eq(json_string_value(json_object_get(families, "plugbay_plugin_call_duration_seconds")), "histogram");
    cr_expect_str_eq(json_string_value(json_object_get(families, "plugbay_plugin_memory_bytes")), "gauge");
    for (size_t i = 0; ids[i]; i++) {
        static const char *const each[] = {"plugbay_plugin_restarts_total", "plugbay_plugin_cpu_seconds_total",
                                           "plugbay_plugin_sandbox_refusals_total", "plugbay_plugin_calls_in_flight"};
        for (size_t k = 0; k < sizeof each / sizeof *each; k++)
            cr_expect_geq(value(j, each[k], ids[i], NULL, NULL), 0, "%s has no %s", ids[i], each[k]);
        cr_expect_eq(value(j, "plugbay_plugin_up", ids[i], NULL, NULL), 1, "%s is loaded", ids[i]);
        cr_expect_eq(value(j, "plugbay_plugin_state", ids[i], "state", "loaded"), 1);
        cr_expect_gt(value(j, "plugbay_plugin_memory_bytes", ids[i], NULL, NULL), 0, "%s's worker has memory", ids[i]);
    }
    cr_expect_eq(value(j, "plugbay_plugin_errors_total", "example/audit", "code", "BAY_ETYPE"), 2);
    cr_expect_eq(value(j, "plugbay_plugin_errors_total", "example/hello", "code", "BAY_ETYPE"), -1, "hello failed none");
    expect_histogram(j, "example/hello", 4);
    expect_histogram(j, "example/audit", 5);
    cr_expect_geq(value(j, "plugbay_connections", NULL, NULL, NULL), 2, "the two workers at least");
    cr_expect_gt(value(j, "plugbay_frames_total", NULL, "direction", "received"), 9);
    cr_expect_gt(value(j, "plugbay_frames_total", NULL, "direction", "sent"), 9);
    cr_expect_geq(value(j, "plugbay_queue_depth", NULL, NULL, NULL), 0);
    cr_expect_eq(value(j, "plugbay_calls_in_flight", NULL, NULL, NULL), 0);
    json_decref(j);
}

Test(metrics, requests_without_the_token_or_not_get_metrics_are_refused)
{
    char tok[300];
    token(tok, sizeof tok);
    cr_expect_eq(scrape("GET", "/metrics", NULL), 401);
    cr_expect(file_has("headers", "WWW-Authenticate: Bearer"), "401 without WWW-Authenticate: Bearer");
    cr_expect(!file_has("body", "plugbay_plugin"), "a refused request was told metrics");
    cr_expect_eq(scrape("GET", "/metrics", "wrong-token-of-some-length"), 401);
    char shorter[300];
    snprintf(shorter, sizeof shorter, "%.*s", (int)strlen(tok) - 1, tok);
    cr_expect_eq(scrape("GET", "/metrics", shorter), 401, "a prefix of the token is not the token");
    cr_expect_eq(scrape("GET", "/other", NULL), 401, "the token first, whatever the path");
    cr_expect_eq(scrape("POST", "/metrics", tok), 405);
    cr_expect(file_has("headers", "Allow: GET"));
    cr_expect_eq(scrape("GET", "/other", tok), 404);
    cr_expect_eq(scrape("GET", "/", tok), 404);
    cr_expect_eq(scrape("GET", "/metrics", tok), 200, "the server still serves");
    cr_expect(file_has("headers", "text/plain; version=0.0.4"));
    json_decref(parsed());
    output o;
    plugbay(&o, (const char *const[]){"call", "greet", "[\"still\"]", NULL});
    cr_expect_eq(o.status, 0, "plugbayd still serves calls: %s", o.err);
}

Test(metrics, the_metrics_command_tells_the_url_and_token)
{
    char tok[300];
    token(tok, sizeof tok);
    cr_expect_eq(strlen(tok), 64, "32 random bytes in hex: %s", tok);
    output o;
    plugbay(&o, (const char *const[]){"metrics", "--json", NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    json_t *j = json_loads(o.out, 0, NULL);
    cr_assert_not_null(j, "%s", o.out);
    char url[64];
    snprintf(url, sizeof url, "http://%s/metrics", addr);
    cr_expect_str_eq(json_string_value(json_object_get(j, "url")), url);
    cr_expect_str_eq(json_string_value(json_object_get(j, "token")), tok);
    json_decref(j);
    plugbay(&o, (const char *const[]){"metrics", NULL});
    cr_expect(o.status == 0 && strstr(o.out, tok) && strstr(o.out, url), "%s", o.out);
    char path[400];
    snprintf(path, sizeof path, "%s/metrics.token", h.state);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "the token file is mode %o", st.st_mode & 0777);
}

/* slot_sum adds up key over the slots of a stats reply. */
static int64_t slot_sum(json_t *j, const char *key)
{
    int64_t n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "slots"), i, s) n += json_integer_value(json_object_get(s, key));
    return n;
}

/* stats_json runs plugbay stats ID --since since --json and returns its reply. */
static json_t *stats_json(const char *id, const char *since)
{
    output o;
    plugbay(&o, (const char *const[]){"stats", id, "--since", since, "--json", NULL});
    cr_assert_eq(o.status, 0, "stats %s --since %s: %s", id, since, o.err);
    json_t *j = json_loads(o.out, 0, NULL);
    cr_assert_not_null(j, "%s", o.out);
    return j;
}

Test(metrics, stats_shows_the_calls_in_its_slots)
{
    make_calls();
    char tok[300];
    token(tok, sizeof tok);
    json_decref(counted(tok)); /* once /metrics counts them, a sample after the calls was taken */
    json_t *j = stats_json("example/audit", "10m");
    cr_expect_eq(json_integer_value(json_object_get(j, "resolution_s")), 1);
    cr_expect_eq(slot_sum(j, "calls"), 5);
    cr_expect_eq(slot_sum(j, "errors"), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "errors_by_code"), "BAY_ETYPE")), 2);
    size_t n = json_array_size(json_object_get(j, "slots"));
    cr_expect(n >= 1 && n <= 600, "%zu one-second slots in 10 minutes", n);
    int64_t t0 = json_integer_value(json_object_get(json_array_get(json_object_get(j, "slots"), 0), "t"));
    cr_expect(t0 > time(NULL) - 700 && t0 <= time(NULL), "the first slot's time %lld is in the last 10 minutes",
              (long long)t0);
    cr_expect_gt(json_integer_value(json_object_get(j, "history_bytes")), 0);
    json_decref(j);
    j = stats_json("example/hello", "2h");
    cr_expect_eq(json_integer_value(json_object_get(j, "resolution_s")), 60);
    cr_expect_eq(slot_sum(j, "calls"), 4, "the current minute holds its seconds so far");
    json_decref(j);
    output o;
    plugbay(&o, (const char *const[]){"stats", "example/hello", NULL});
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_expect(strstr(o.out, "one-second slots") && strstr(o.out, "TIME") && strstr(o.out, "P99US"), "%s", o.out);
    int rows = 0;
    for (const char *s = o.out; (s = strchr(s, '\n')) != NULL; s++)
        rows++;
    cr_expect(rows >= 3 && rows <= 62, "%d lines: a header, titles and at most 60 rows", rows);
}

Test(metrics, stats_refuses_a_bad_plugin_or_span)
{
    output o;
    plugbay(&o, (const char *const[]){"stats", "no/such", NULL});
    cr_expect(o.status == 1 && strstr(o.err, "no plugin \"no/such\"") && strstr(o.err, "BAY_ENOENT"), "%s", o.err);
    static const char *const bad[] = {"0s", "25h", "2d", "10x", "m", "-5m", "1.5h", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        plugbay(&o, (const char *const[]){"stats", "example/hello", "--since", bad[i], NULL});
        cr_expect(o.status == 2 && strstr(o.err, "--since needs a duration up to one day such as 30s, 10m, 2h or 1d"),
                  "--since \"%s\": %d %s", bad[i], o.status, o.err);
    }
    plugbay(&o, (const char *const[]){"list", "--since", "1m", NULL});
    cr_expect(o.status == 2 && strstr(o.err, "--since only goes with stats"), "%s", o.err);
    /* plugbayd's own checks, for hosts that skip the CLI's */
    bay_conn *c = h_connect(&h, "stats-args");
    const struct {
        bay_value *since;
        const char *needle;
    } cases[] = {
        {bay_int(0), "from 1 second to 86400"},
        {bay_int(86401), "from 1 second to 86400"},
        {bay_str("10m"), "whole number of seconds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bay_value *args = bay_map();
        bay_map_set(args, "id", bay_str("example/hello"));
        bay_map_set(args, "since", cases[i].since);
        bay_error e;
        cr_expect_eq(bay_command(c, "stats", args, 5000, NULL, &e), BAY_EINVAL, "case %zu", i);
        cr_expect(strstr(e.message, cases[i].needle), "case %zu: %s", i, e.message);
        bay_value_free(args);
    }
    bay_close(c);
    plugbay(&o, (const char *const[]){"stats", "example/hello", "--since", "1d", NULL});
    cr_expect_eq(o.status, 0, "plugbayd still answers: %s", o.err);
}

/* run_broker runs a plugbayd of its own on h's plugins folder (a state folder of its own) with words to its end; returns its status, stderr in err. */
static int run_broker(const char *const *words, char *err, size_t len)
{
    char state[400];
    snprintf(state, sizeof state, "%s/second-state", h.dir);
    const char *argv[16] = {BAY_BIN_DIR "/plugbayd", "--plugins", h.plugins, "--state", state, "--listen",
                            "ipc:///tmp/plugbay-metrics-second.sock"};
    size_t n = 7;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    return h_run(&h, argv, NULL, 0, err, len);
}

Test(metrics, a_bad_address_a_port_in_use_or_a_bad_token_file_stop_the_start)
{
    char err[2048], file[400];
    snprintf(file, sizeof file, "%s/short.token", h.dir);
    FILE *f = fopen(file, "w");
    fputs("tooshort\n", f);
    fclose(f);
    const struct {
        const char *words[5];
        int status;
        const char *needle;
    } cases[] = {
        {{"--metrics", "nonsense", NULL}, 1, "--metrics nonsense: not an address to serve on"},
        {{"--metrics", "127.0.0.1", NULL}, 1, "--metrics 127.0.0.1: not an address to serve on"},
        {{"--metrics", "127.0.0.1:0", NULL}, 1, "give HOST:PORT, such as 127.0.0.1:9464"},
        {{"--metrics", "127.0.0.1:70000", NULL}, 1, "not an address to serve on"},
        {{"--metrics", "127.0.0.1:9464/x", NULL}, 1, "not an address to serve on"},
        {{"--metrics", "no.such.host.invalid:9464", NULL}, 1, "--metrics no.such.host.invalid:9464: "},
        {{"--metrics", addr, NULL}, 1, "another program listens on that port"}, /* the running plugbayd's */
        {{"--metrics-token-file", file, NULL}, 2, "--metrics-token-file goes with --metrics HOST:PORT"},
        {{"--metrics", "127.0.0.1:1", "--metrics-token-file", file, NULL}, 1, "must hold one token of 16 to 256"},
        {{"--metrics", "127.0.0.1:1", "--metrics-token-file", "/no/such/file", NULL}, 1,
         "--metrics-token-file /no/such/file: No such file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int status = run_broker(cases[i].words, err, sizeof err);
        cr_expect_eq(status, cases[i].status, "case %zu exited %d: %s", i, status, err);
        cr_expect(strstr(err, cases[i].needle), "case %zu: \"%s\" is not in: %s", i, cases[i].needle, err);
    }
    char tok[300];
    token(tok, sizeof tok);
    cr_expect_eq(scrape("GET", "/metrics", tok), 200, "the first plugbayd still serves /metrics");
}

/* Without --metrics, the metrics command says how to get it; a token from a file is the one wanted. */
Test(metrics, a_token_file_is_used_and_no_metrics_is_said)
{
    h_cleanup(&h);
    h_setup(&h, ids);
    output o;
    h_start_loaded(&h, NULL, ids);
    plugbay(&o, (const char *const[]){"metrics", NULL});
    cr_expect(o.status == 1 && strstr(o.err, "start it with --metrics 127.0.0.1:PORT") && strstr(o.err, "BAY_ENOENT"),
              "%s", o.err);
    h_stop(&h);
    char file[400];
    snprintf(file, sizeof file, "%s/given.token", h.dir);
    FILE *f = fopen(file, "w");
    fputs("a-token-an-operator-chose-0123456789\n", f);
    fclose(f);
    h_free_port(addr, sizeof addr);
    h_start_loaded(&h, (const char *const[]){"--metrics", addr, "--metrics-token-file", file, NULL}, ids);
    cr_expect_eq(scrape("GET", "/metrics", "a-token-an-operator-chose-0123456789"), 200);
    cr_expect_eq(scrape("GET", "/metrics", "a-token-an-operator-chose-012345678"), 401);
    plugbay(&o, (const char *const[]){"metrics", NULL});
    cr_expect(o.status == 0 && strstr(o.out, file), "the token file is the one given: %s", o.out);
}
