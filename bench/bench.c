/* bench/bench.c — plugbay's benchmark: baselines, then per language call latency, load time and worker memory.
 *
 * Every figure is printed beside a baseline measured in the same run, because
 * absolute times drift between runs on these machines. Results also go to
 * bench/results.json (or the path in $BAY_BENCH_JSON) so runs can be compared. */
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <plugbay/plugbay.h>

#define WARMUP 300
#define SAMPLES 5000
#define LOADS 9

/* One plugin per language: what to call and with what. Each bridge adds its line. */
static const struct target {
    const char *language, *id, *ext, *args_json;
} targets[] = {
    {"c", "example/hello", "greet", "[\"bench\"]"},
    {"lua", "example/lua-hello", "lua.greet", "[\"bench\"]"},
    {"ffi", "example/zlib", "zlib.crc32", "[0, \"bench\"]"}, /* libz's crc32 through a manifest-only binding */
    {"wasm", "example/wasm-hello", "wasm.greet", "[\"bench\"]"},
};
#define NTARGETS (sizeof targets / sizeof targets[0])

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct stats {
    double p50, p99;
} stats;

static stats percentiles(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return (stats){t[n / 2], t[n * 99 / 100]};
}

/* time_loop runs one(arg) `rounds` times after a warm-up and returns the percentiles in µs. */
static stats time_loop(int (*one)(void *), void *arg, int warmup, int rounds)
{
    double *t = malloc(sizeof *t * (size_t)rounds);
    for (int i = 0; i < warmup + rounds; i++) {
        double t0 = now_us();
        if (one(arg)) {
            fprintf(stderr, "bench: round %d failed\n", i);
            exit(1);
        }
        if (i >= warmup)
            t[i - warmup] = now_us() - t0;
    }
    stats s = percentiles(t, rounds);
    free(t);
    return s;
}

/* Baseline: one byte each way over a Unix socketpair to a child process. */
static int pair_one(void *arg)
{
    int fd = *(int *)arg;
    char b = 'x';
    return write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1;
}

static stats socketpair_baseline(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(1);
    pid_t pid = fork(); /* before this process touches NNG */
    if (pid == 0) {
        close(sv[0]);
        char b;
        while (read(sv[1], &b, 1) == 1 && write(sv[1], &b, 1) == 1)
            ;
        _exit(0);
    }
    close(sv[1]);
    stats s = time_loop(pair_one, &sv[0], WARMUP, SAMPLES);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return s;
}

/* Baseline: raw NNG req/rep over ipc to a child process. */
static int nng_one(void *arg)
{
    char ping[] = "ping", *reply = NULL;
    size_t len;
    if (nng_send(*(nng_socket *)arg, ping, sizeof ping, 0) || nng_recv(*(nng_socket *)arg, &reply, &len, NNG_FLAG_ALLOC))
        return 1;
    nng_free(reply, len);
    return 0;
}

static stats nng_baseline(const char *url)
{
    pid_t pid = fork(); /* the child initialises NNG itself, after the fork */
    if (pid == 0) {
        nng_socket rep;
        if (nng_rep0_open(&rep) || nng_listen(rep, url, NULL, 0))
            _exit(1);
        for (nng_msg *m; nng_recvmsg(rep, &m, 0) == 0 && nng_sendmsg(rep, m, 0) == 0;)
            ;
        _exit(0);
    }
    nng_socket req;
    nng_req0_open(&req);
    while (nng_dial(req, url, NULL, 0) != 0)
        usleep(1000);
    stats s = time_loop(nng_one, &req, WARMUP, SAMPLES);
    nng_close(req);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return s;
}

/* Process start-up baseline: posix_spawn + wait of /bin/true. */
static int true_one(void *arg)
{
    char *argv[] = {"/bin/true", NULL};
    pid_t pid;
    int status;
    return posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) || waitpid(pid, &status, 0) != pid;
}

typedef struct bench_call {
    bay_conn *c;
    const char *ext;
    bay_value *args;
} bench_call;

static int call_one(void *arg)
{
    bench_call *b = arg;
    bay_value *res = NULL;
    int rc = bay_call(b->c, b->ext, b->args, NULL, &res, NULL);
    bay_value_free(res);
    return rc;
}

static int command(bay_conn *c, const char *cmd, const char *id, bay_value **out)
{
    bay_value *a = bay_map();
    bay_map_set(a, "id", bay_str(id));
    bay_error err;
    int rc = bay_command(c, cmd, a, 30000, out, &err);
    bay_value_free(a);
    if (rc)
        fprintf(stderr, "bench: %s %s: %s\n", cmd, id, err.message);
    return rc;
}

typedef struct loader {
    bay_conn *c;
    const char *id;
} loader;

/* load_one times a load from stopped to loaded (spawn, handshake, on_load) — the unload is not timed. */
static double load_once(loader *l)
{
    if (command(l->c, "unload", l->id, NULL))
        exit(1);
    double t0 = now_us();
    if (command(l->c, "load", l->id, NULL))
        exit(1);
    return now_us() - t0;
}

/* pss_kb reads a process's proportional set size from /proc/PID/smaps_rollup. */
static long pss_kb(long pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static long worker_pid(bay_conn *c, const char *id)
{
    bay_value *info = NULL;
    if (command(c, "info", id, &info))
        exit(1);
    long pid = (long)bay_value_int(bay_map_get(info, "pid"));
    bay_value_free(info);
    return pid;
}

/* connect_ready connects once the broker answers and every target serves its call (30 s at most). */
static bay_conn *connect_ready(const char *url)
{
    for (int i = 0; i < 3000; i++, usleep(10000)) {
        bay_conn *c;
        if (bay_connect(url, "bench", &c, NULL) != 0)
            continue;
        size_t ok = 0;
        for (size_t t = 0; t < NTARGETS; t++) {
            bay_value *args = NULL;
            bay_value_from_json(targets[t].args_json, &args, NULL, 0);
            bench_call b = {c, targets[t].ext, args};
            ok += call_one(&b) == 0;
            bay_value_free(args);
        }
        if (ok == NTARGETS)
            return c;
        bay_close(c);
    }
    fprintf(stderr, "bench: plugbayd at %s did not serve every target within 30 s\n", url);
    exit(1);
}

static json_t *stats_json(stats s)
{
    return json_pack("{s:f, s:f}", "p50_us", s.p50, "p99_us", s.p99);
}

static void row(const char *what, double value, const char *unit, double base)
{
    if (base > 0)
        printf("  %-46s %10.1f %-3s %8.2fx\n", what, value, unit, value / base);
    else
        printf("  %-46s %10.1f %-3s\n", what, value, unit);
}

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : BAY_BIN_DIR;
    const char *plugins = argc > 2 ? argv[2] : BAY_PLUGIN_DIR;
    const char *json_path = getenv("BAY_BENCH_JSON") ? getenv("BAY_BENCH_JSON") : BAY_SOURCE_DIR "/bench/results.json";
    char dir[] = "/tmp/plugbay-bench.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char state[256], log[256], url[300], nngurl[300], exe[512];
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(log, sizeof log, "%s/plugbayd.log", dir);
    snprintf(url, sizeof url, "ipc://%s/plugbayd.sock", state);
    snprintf(nngurl, sizeof nngurl, "ipc://%s/baseline.sock", dir);
    snprintf(exe, sizeof exe, "%s/plugbayd", bin);

    stats sp = socketpair_baseline();
    stats raw = nng_baseline(nngurl);
    stats spawn = time_loop(true_one, NULL, 5, 50);

    char *bargv[] = {exe, "--plugins", (char *)plugins, "--state", state, "--log", log, "--autoinstall", NULL};
    pid_t broker;
    if (posix_spawn(&broker, exe, NULL, NULL, bargv, environ) != 0) {
        fprintf(stderr, "bench: cannot start %s\n", exe);
        return 1;
    }
    bay_conn *c = connect_ready(url);

    json_t *out = json_pack("{s:{s:o, s:o, s:o}, s:[]}", "baselines", "socketpair", stats_json(sp), "nng_reqrep_ipc",
                            stats_json(raw), "spawn_bin_true", stats_json(spawn), "languages");
    printf("plugbay benchmark (%d calls per figure after %d warm-up; ratio = figure / its baseline)\n\n", SAMPLES,
           WARMUP);
    printf("baselines, same run\n");
    row("socketpair round trip p50", sp.p50, "µs", 0);
    row("raw NNG req/rep over ipc p50", raw.p50, "µs", 0);
    row("spawn + wait /bin/true p50", spawn.p50, "µs", 0);
    for (size_t t = 0; t < NTARGETS; t++) {
        const struct target *tg = &targets[t];
        bench_call b = {c, tg->ext, NULL};
        bay_value_from_json(tg->args_json, &b.args, NULL, 0);
        stats lat = time_loop(call_one, &b, WARMUP, SAMPLES);
        bay_value_free(b.args);
        loader l = {c, tg->id};
        double loads[LOADS];
        for (int i = 0; i < LOADS; i++)
            loads[i] = load_once(&l);
        stats load = percentiles(loads, LOADS);
        long pid = worker_pid(c, tg->id);
        long pss = pss_kb(pid, "Pss"), rss = pss_kb(pid, "Rss");
        printf("\n%s plugin %s: %s(%s)\n", tg->language, tg->id, tg->ext, tg->args_json);
        row("call p50 (vs raw NNG req/rep)", lat.p50, "µs", raw.p50);
        row("call p99 (vs raw NNG req/rep p99)", lat.p99, "µs", raw.p99);
        row("load p50: spawn, handshake, on_load (vs spawn)", load.p50 / 1000, "ms", spawn.p50 / 1000);
        row("worker PSS (the extra memory of one more plugin)", (double)pss, "kB", 0);
        row("worker RSS", (double)rss, "kB", 0);
        json_array_append_new(json_object_get(out, "languages"),
                              json_pack("{s:s, s:s, s:o, s:f, s:I, s:I}", "language", tg->language, "plugin", tg->id,
                                        "call", stats_json(lat), "load_p50_ms", load.p50 / 1000, "worker_pss_kb",
                                        (json_int_t)pss, "worker_rss_kb", (json_int_t)rss));
    }
    bay_close(c);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    if (json_dump_file(out, json_path, JSON_INDENT(2)) == 0)
        printf("\nresults written to %s\n", json_path);
    json_decref(out);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    return system(rm) == 0 ? 0 : 1;
}
