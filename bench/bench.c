/* bench/bench.c — plugbay's benchmark suite: baselines, then per language both call paths, throughput, load and memory; a soak.
 *
 * Every figure is printed beside a baseline measured in the same run, because
 * absolute times drift between runs on these machines. Results also go to
 * bench/results.json (or the path in $BAY_BENCH_JSON) so runs can be compared.
 * Usage: plugbay-bench [--soak CALLS] [BIN-DIR PLUGIN-DIR [TEST-PLUGIN-DIR]]; --soak 0 skips the
 * soak (1,000,000 calls on each path by default).
 * plugbay-bench --compare OLD.json NEW.json [--fail-over PCT] prints the change of every figure
 * (bench/compare.h) and runs nothing. */
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <plugbay/plugbay.h>

#include "clock.h"
#include "compare.h"
#include "proc.h"

#define WARMUP 300
#define SAMPLES 5000
#define FEW_SAMPLES 1000 /* calls per latency of the event and plugin-to-plugin figures (each takes 0.5-2 ms) */
#define LOADS 9
#define CLONES 4         /* copies of each plugin loaded to measure what one more plugin costs */
#define THREADS 4        /* host threads flooding plugbayd in the fair-shares figure */
#define RATE_THREADS 8   /* host threads of the multi-threaded throughput figure (its name says 8) */
_Static_assert(RATE_THREADS == 8, "the figures calls_per_s_*_8 are named after 8 host threads");
#define IN_FLIGHT 64     /* calls one host thread keeps in flight in the pipelined throughput figure */
#define PROVIDERS (CLONES + 1) /* providers of the event figure: the C plugin and its copies */
#define RATE_MS 1000     /* how long each throughput figure runs */
#define SOAK_FIRST 10000 /* the soak compares memory after this many calls with its end */

/* One plugin per language: what to call and with what. Each bridge adds its line. */
static const struct target {
    const char *language, *id, *ext, *args_json;
} targets[] = {
    {"c", "example/hello", "greet", "[\"bench\"]"},
    {"lua", "example/lua-hello", "lua.greet", "[\"bench\"]"},
    {"ffi", "example/zlib", "zlib.crc32", "[0, \"bench\"]"}, /* libz's crc32 through a manifest-only binding */
    {"wasm", "example/wasm-hello", "wasm.greet", "[\"bench\"]"},
    {"python", "example/py-hello", "py.greet", "[\"bench\"]"},
};
#define NTARGETS (sizeof targets / sizeof targets[0])
#define CALLER_ID "test/caller" /* a test plugin calling another plugin's handle, for the plugin-to-plugin figure */
#define STREAMER_ID "conform/c" /* the C conformance plugin, whose conform.stream the streams figure reads */
#define SLOW_ID "test/slow"     /* the test plugin whose slow.sleep(ms) the replicas figure calls, as bench/repN */
#define SLOW_MS 10              /* how long each of its calls sleeps */
static const int replica_counts[] = {1, 2, 4};

extern char **environ;

static double now_us(void)
{
    return (double)bay__now_ns() / 1e3;
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

/* pair_child forks a child process (before this process touches NNG) that runs child on its end of a new Unix
 * socketpair, then exits; returns its pid, with this process's end in *fd. Exits when it cannot. */
static pid_t pair_child(void (*child)(int fd), int *fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        child(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

/* echo_bytes sends back every byte it reads from fd. */
static void echo_bytes(int fd)
{
    char b;
    while (read(fd, &b, 1) == 1 && write(fd, &b, 1) == 1)
        ;
}

static stats socketpair_baseline(void)
{
    int fd;
    pid_t pid = pair_child(echo_bytes, &fd);
    stats s = time_loop(pair_one, &fd, WARMUP, SAMPLES);
    close(fd);
    waitpid(pid, NULL, 0);
    return s;
}

#define STREAM_CHUNK 65536      /* bytes per chunk of the stream figure and its socketpair baseline */
#define STREAM_MB 256           /* MiB each streams */

/* write_stream writes STREAM_MB MiB to fd in STREAM_CHUNK writes. */
static void write_stream(int fd)
{
    static char chunk[STREAM_CHUNK];
    for (long sent = 0; sent < (long)STREAM_MB << 20;) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n <= 0)
            _exit(1);
        sent += n;
    }
}

/* Baseline: STREAM_MB MiB written by a child process in STREAM_CHUNK writes
 * to a Unix socketpair and read by this one; MB/s (10^6 bytes). */
static double socketpair_mb_s(void)
{
    int fd;
    pid_t pid = pair_child(write_stream, &fd);
    static char buf[STREAM_CHUNK];
    double t0 = now_us();
    long got = 0;
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
        got += n;
    double us = now_us() - t0;
    close(fd);
    waitpid(pid, NULL, 0);
    return got == (long)STREAM_MB << 20 ? (double)got / us : 0;
}

/* Baseline: a word bounced through shared memory to a child process that spins on it (the fast path's floor). */
static int shm_one(void *arg)
{
    _Atomic uint64_t *w = arg; /* w[0]: ping, w[1]: pong */
    uint64_t n = atomic_load(&w[0]) + 1;
    atomic_store(&w[0], n);
    while (atomic_load(&w[1]) != n)
        __builtin_ia32_pause();
    return 0;
}

static stats shm_baseline(void)
{
    _Atomic uint64_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        for (uint64_t seen = 0; seen != UINT64_MAX;) {
            uint64_t n = atomic_load(&w[0]);
            if (n != seen)
                atomic_store(&w[1], seen = n);
            __builtin_ia32_pause();
        }
        _exit(0);
    }
    stats s = time_loop(shm_one, (void *)w, WARMUP, SAMPLES);
    atomic_store(&w[0], UINT64_MAX);
    waitpid(pid, NULL, 0);
    munmap((void *)w, 4096);
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

/* spawn starts argv (stdout and stderr to /dev/null when quiet); returns its pid. */
static pid_t spawn(char *const *argv, bool quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc ? 0 : pid;
}

/* run runs argv to its end; returns true when it exited with status 0. */
static bool run(char *const *argv)
{
    int status;
    pid_t pid = spawn(argv, false);
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Process start-up baseline: posix_spawn + wait of /bin/true. */
static int true_one(void *arg)
{
    char *argv[] = {"/bin/true", NULL};
    return !run(argv);
}

/* pss_kb reads a field ("Pss", "Rss") of a process's /proc/PID/smaps_rollup. */
static long pss_kb(long pid, const char *field)
{
    return (long)bay__proc_kb((pid_t)pid, "smaps_rollup", field);
}

/* Memory baseline: the PSS of an idle /bin/sleep, the least a process costs. */
static long idle_process_pss(void)
{
    char *argv[] = {"/bin/sleep", "30", NULL};
    pid_t pid = spawn(argv, true);
    long kb = -1;
    for (int i = 0; i < 200 && kb <= 0; i++, usleep(5000))
        if (pss_kb(pid, "Pss") > 0 && pss_kb(pid, "Rss") > 300) /* exec'ed: sleep's own pages mapped */
            kb = pss_kb(pid, "Pss");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return kb;
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
    bay_error err;
    int rc = bay_call(b->c, b->ext, b->args, NULL, &res, &err);
    if (rc)
        fprintf(stderr, "bench: %s: %s\n", b->ext, err.message);
    bay_value_free(res);
    return rc;
}

/* command runs a broker command on plugin id (install grants everything it asks for). */
static int command(bay_conn *c, const char *cmd, const char *id, bay_value **out)
{
    bay_value *a = bay_map();
    bay_map_set(a, "id", bay_str(id));
    if (strcmp(cmd, "install") == 0)
        bay_map_set(a, "grant_all", bay_bool(true));
    bay_error err;
    int rc = bay_command(c, cmd, a, 60000, out, &err);
    bay_value_free(a);
    if (rc)
        fprintf(stderr, "bench: %s %s: %s\n", cmd, id, err.message);
    return rc;
}

/* timed_command returns how long a command took (ms), exiting when it fails. */
static double timed_command(bay_conn *c, const char *cmd, const char *id)
{
    double t0 = now_us();
    if (command(c, cmd, id, NULL))
        exit(1);
    return (now_us() - t0) / 1000;
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

/* total_pss sums the PSS of plugbayd and every worker it runs. */
static long total_pss(bay_conn *c, pid_t broker)
{
    bay_value *s = NULL;
    if (bay_command(c, "status", NULL, 30000, &s, NULL) != 0)
        exit(1);
    long kb = pss_kb(broker, "Pss");
    const bay_value *plugins = bay_map_get(s, "plugins");
    for (size_t i = 0; i < bay_value_len(plugins); i++)
        if (bay_value_int(bay_map_get(bay_array_get(plugins, i), "pid")) > 0)
            kb += pss_kb((long)bay_value_int(bay_map_get(bay_array_get(plugins, i), "pid")), "Pss");
    bay_value_free(s);
    return kb;
}

/* connect_path connects a host whose calls take fast channels (fast) or all go through plugbayd. */
static bay_conn *connect_path(const char *url, bool fast)
{
    setenv("PLUGBAY_FASTPATH", fast ? "1" : "0", 1);
    for (int i = 0; i < 3000; i++, usleep(10000)) {
        bay_conn *c;
        if (bay_connect(url, fast ? "bench-fast" : "bench-nng", &c, NULL) == 0 &&
            bay_command(c, "status", NULL, 5000, NULL, NULL) == 0)
            return c;
    }
    fprintf(stderr, "bench: plugbayd at %s did not answer within 30 s\n", url);
    exit(1);
}

/* One host thread of a throughput figure. */
typedef struct rater {
    bench_call call;
    atomic_bool *stop;
    long calls;
    pthread_t thread;
} rater;

static void *rate_loop(void *arg)
{
    rater *r = arg;
    while (!atomic_load(r->stop) && call_one(&r->call) == 0)
        r->calls++;
    return NULL;
}

/* calls_per_s runs threads host threads calling b for RATE_MS and returns their calls per second. */
static double calls_per_s(const bench_call *b, int threads)
{
    atomic_bool stop = false;
    rater r[RATE_THREADS];
    for (int i = 0; i < threads; i++) {
        r[i] = (rater){.call = *b, .stop = &stop};
        pthread_create(&r[i].thread, NULL, rate_loop, &r[i]);
    }
    double t0 = now_us();
    usleep(RATE_MS * 1000);
    atomic_store(&stop, true);
    long calls = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(r[i].thread, NULL);
        calls += r[i].calls;
    }
    return (double)calls / ((now_us() - t0) / 1e6);
}

static json_t *stats_json(stats s)
{
    return json_pack("{s:f, s:f}", "p50_us", s.p50, "p99_us", s.p99);
}

/* Every figure printed, as results.json's "figures": {SECTION: {KEY: {"value", "unit", "baseline", "vs", "ratio"}}},
 * each beside the baseline of the same run it is judged by. Owned by main. */
static json_t *figures;

/* pipeline_pending waits for pending call p and frees it, failing the bench if the call failed. */
static void pipeline_pending(bay_pending *p)
{
    bay_value *res = NULL;
    bay_error err;
    if (bay_pending_wait(p, -1, &res, &err) != 0) {
        fprintf(stderr, "bench: pipelined call: %s\n", err.message);
        exit(1);
    }
    bay_value_free(res);
    bay_pending_free(p);
}

/* pipelined_per_s makes calls of b from one host thread with IN_FLIGHT of them started and not yet
 * waited for, for RATE_MS, and returns the calls per second. */
static double pipelined_per_s(const bench_call *b)
{
    bay_pending *slot[IN_FLIGHT];
    bay_error err;
    long calls = 0;
    double t0 = now_us(), end = t0 + RATE_MS * 1000;
    for (int i = 0; now_us() < end || i % IN_FLIGHT; i++, calls++) {
        if (i >= IN_FLIGHT)
            pipeline_pending(slot[i % IN_FLIGHT]);
        if (bay_call_async(b->c, b->ext, b->args, NULL, &slot[i % IN_FLIGHT], &err) != 0) {
            fprintf(stderr, "bench: %s: %s\n", b->ext, err.message);
            exit(1);
        }
    }
    for (int i = 0; i < IN_FLIGHT; i++)
        pipeline_pending(slot[i]);
    return (double)calls / ((now_us() - t0) / 1e6);
}

/* row prints a figure beside its baseline base (none when base <= 0), named vs, and records it in
 * figures under section and key (a NULL section prints it only: the baselines are recorded apart). */
static void row(const char *section, const char *key, const char *what, double value, const char *unit, double base,
                const char *vs)
{
    json_t *fig = json_pack("{s:f, s:s}", "value", value, "unit", unit);
    if (base > 0) {
        printf("  %-54s %11.1f %-5s %9.3fx\n", what, value, unit, value / base);
        json_object_set_new(fig, "baseline", json_real(base));
        json_object_set_new(fig, "vs", json_string(vs));
        json_object_set_new(fig, "ratio", json_real(value / base));
    } else {
        printf("  %-54s %11.1f %-5s\n", what, value, unit);
    }
    if (section == NULL) {
        json_decref(fig);
        return;
    }
    if (json_object_get(figures, section) == NULL)
        json_object_set_new(figures, section, json_object());
    json_object_set_new(json_object_get(figures, section), key, fig);
}

/* The baselines every figure is compared with. */
typedef struct baselines {
    stats pair, shm, nng, spawn;
    long idle_pss_kb;
    double pair_mb_s; /* a socketpair's throughput in 64 KiB writes */
} baselines;

/* compile_ms returns how long plugbayd's compile of id's module took when it was installed (info's compile_ms:
 * a WebAssembly module, translated by wasm2c and compiled by cc before the worker starts), or -1 for a plugin
 * whose language compiles nothing. */
static double compile_ms(bay_conn *c, const char *id)
{
    bay_value *info = NULL;
    if (command(c, "info", id, &info))
        exit(1);
    const bay_value *v = bay_map_get(info, "compile_ms");
    double ms = bay_value_type(v) == BAY_INT ? (double)bay_value_int(v) : -1;
    bay_value_free(info);
    return ms;
}

/* clone_id names clone k of a target's plugin. */
static void clone_id(const struct target *t, int k, char *out, size_t len)
{
    snprintf(out, len, "bench/%s-%d", t->language, k);
}

/* extra_pss installs the clones of t (each loaded for the first time) and
 * returns the PSS they add to plugbayd and its workers, per plugin; the
 * clones are uninstalled again. *cold_ms gets their mean load time. */
static double extra_pss(bay_conn *c, pid_t broker, const struct target *t, double *cold_ms)
{
    char id[128];
    long before = total_pss(c, broker);
    *cold_ms = 0;
    for (int k = 1; k <= CLONES; k++) {
        clone_id(t, k, id, sizeof id);
        *cold_ms += timed_command(c, "install", id) / CLONES;
    }
    long after = total_pss(c, broker);
    for (int k = 1; k <= CLONES; k++) {
        clone_id(t, k, id, sizeof id);
        timed_command(c, "uninstall", id);
    }
    return (double)(after - before) / CLONES;
}

/* bench_target measures one language and prints its rows; returns its JSON. */
static json_t *bench_target(bay_conn *fast, bay_conn *nng, pid_t broker, const struct target *t, const baselines *base)
{
    double install = timed_command(fast, "install", t->id);
    double compile = compile_ms(fast, t->id), cold = compile >= 0 ? install - compile : install; /* the load after it */
    bench_call f = {fast, t->ext, NULL}, n = {nng, t->ext, NULL};
    bay_value_from_json(t->args_json, &f.args, NULL, 0);
    n.args = f.args;
    stats lat_fast = time_loop(call_one, &f, WARMUP, SAMPLES), lat_nng = time_loop(call_one, &n, WARMUP, SAMPLES);
    double rate_fast1 = calls_per_s(&f, 1), rate_fastn = calls_per_s(&f, RATE_THREADS);
    double rate_nng1 = calls_per_s(&n, 1), rate_nngn = calls_per_s(&n, RATE_THREADS), rate_nngp = pipelined_per_s(&n);
    long pid = worker_pid(fast, t->id);
    long pss = pss_kb(pid, "Pss"), rss = pss_kb(pid, "Rss");
    double loads[LOADS];
    for (int i = 0; i < LOADS; i++) {
        timed_command(fast, "unload", t->id);
        loads[i] = timed_command(fast, "load", t->id);
    }
    stats warm = percentiles(loads, LOADS);
    double clone_cold;
    double extra = extra_pss(fast, broker, t, &clone_cold);
    bay_value_free(f.args);

    const char *l = t->language;
    double spawn_ms = base->spawn.p50 / 1000, idle = (double)base->idle_pss_kb;
    printf("\n%s plugin %s: %s(%s)\n", l, t->id, t->ext, t->args_json);
    row(l, "call_fast_p50", "call p50, fast path (vs shared-memory spin)", lat_fast.p50, "µs", base->shm.p50,
        "shm_spin.p50_us");
    row(l, "call_fast_p99", "call p99, fast path (vs shared-memory spin p99)", lat_fast.p99, "µs", base->shm.p99,
        "shm_spin.p99_us");
    row(l, "call_nng_p50", "call p50 through plugbayd (vs raw NNG req/rep)", lat_nng.p50, "µs", base->nng.p50,
        "nng_reqrep_ipc.p50_us");
    row(l, "call_nng_p99", "call p99 through plugbayd (vs raw NNG req/rep p99)", lat_nng.p99, "µs", base->nng.p99,
        "nng_reqrep_ipc.p99_us");
    row(l, "calls_per_s_fast_1", "calls/s, 1 host thread, fast path (vs 1/spin)", rate_fast1, "/s",
        1e6 / base->shm.p50, "1e6/shm_spin.p50_us");
    row(l, "calls_per_s_fast_8", "calls/s, 8 host threads, fast path (vs 1/spin)", rate_fastn, "/s",
        1e6 / base->shm.p50, "1e6/shm_spin.p50_us");
    row(l, "calls_per_s_nng_1", "calls/s, 1 host thread, through plugbayd (vs 1/NNG)", rate_nng1, "/s",
        1e6 / base->nng.p50, "1e6/nng_reqrep_ipc.p50_us");
    row(l, "calls_per_s_nng_8", "calls/s, 8 host threads, through plugbayd (vs 1/NNG)", rate_nngn, "/s",
        1e6 / base->nng.p50, "1e6/nng_reqrep_ipc.p50_us");
    row(l, "calls_per_s_nng_async", "calls/s, 1 thread, 64 async in flight, plugbayd (vs 1/NNG)", rate_nngp, "/s",
        1e6 / base->nng.p50, "1e6/nng_reqrep_ipc.p50_us");
    row(l, "load_cold_ms", "load, cold: first load, any compile apart (vs spawn)", cold, "ms", spawn_ms,
        "spawn_bin_true.p50_us/1000");
    if (compile >= 0)
        row(l, "install_compile_ms", "install: its module compiled, wasm2c + cc (vs spawn)", compile, "ms", spawn_ms,
            "spawn_bin_true.p50_us/1000");
    row(l, "load_cold_copy_ms", "load, cold: first load of a copy, mean (vs spawn)", clone_cold, "ms", spawn_ms,
        "spawn_bin_true.p50_us/1000");
    row(l, "load_warm_p50_ms", "load, warm: unload then load again, p50 (vs spawn)", warm.p50, "ms", spawn_ms,
        "spawn_bin_true.p50_us/1000");
    row(l, "extra_pss_kb", "extra PSS per additional plugin (vs idle process)", extra, "kB", idle,
        "idle_process_pss_kb");
    row(l, "worker_pss_kb", "worker PSS", (double)pss, "kB", idle, "idle_process_pss_kb");
    row(l, "worker_rss_kb", "worker RSS", (double)rss, "kB", 0, NULL);
    json_t *lang =
        json_pack("{s:s, s:s, s:o, s:o, s:{s:f, s:f, s:f, s:f, s:f}, s:f, s:f, s:f, s:f, s:I, s:I}", "language",
                  t->language, "plugin", t->id, "call_fast", stats_json(lat_fast), "call_nng", stats_json(lat_nng),
                  "calls_per_s", "fast_1", rate_fast1, "fast_8", rate_fastn, "nng_1", rate_nng1, "nng_8", rate_nngn,
                  "nng_async", rate_nngp,
                  "load_cold_ms", cold, "load_cold_copy_ms", clone_cold, "load_warm_p50_ms", warm.p50,
                  "extra_pss_kb", extra, "worker_pss_kb", (json_int_t)pss, "worker_rss_kb", (json_int_t)rss);
    if (compile >= 0)
        json_object_set_new(lang, "install_compile_ms", json_real(compile));
    return lang;
}

/* time_both times rounds of b's call from a host on the fast path (fast) and through plugbayd (nng) into *f and *n. */
static void time_both(bench_call b, int rounds, bay_conn *fast, bay_conn *nng, stats *f, stats *n)
{
    b.c = fast;
    *f = time_loop(call_one, &b, WARMUP, rounds);
    b.c = nng;
    *n = time_loop(call_one, &b, WARMUP, rounds);
}

/* event_figure installs the CLONES copies of the C plugin beside it, so that PROVIDERS plugins answer its
 * event app.started, and times the event from a host on each path; the copies are uninstalled again. */
static void event_figure(bay_conn *fast, bay_conn *nng, const baselines *base)
{
    char id[128];
    for (int k = 1; k <= CLONES; k++) {
        clone_id(&targets[0], k, id, sizeof id);
        timed_command(fast, "install", id);
    }
    bay_value *res = NULL;
    if (bay_call(fast, "app.started", NULL, NULL, &res, NULL) != 0 || bay_value_len(res) != PROVIDERS) {
        fprintf(stderr, "bench: app.started did not reach %d providers\n", PROVIDERS);
        exit(1);
    }
    bay_value_free(res);
    stats f, n;
    time_both((bench_call){NULL, "app.started", NULL}, FEW_SAMPLES, fast, nng, &f, &n);
    for (int k = 1; k <= CLONES; k++) {
        clone_id(&targets[0], k, id, sizeof id);
        timed_command(fast, "uninstall", id);
    }
    printf("\nevent app.started to %d providers (%s and %d copies)\n", PROVIDERS, targets[0].id, CLONES);
    /* from a host on the fast path the event goes over a channel to each provider (docs/fastpath.md): judged by the
     * shared-memory round trip; through plugbayd by NNG's */
    row("event", "fast_p50", "event p50, fast path: a channel to each provider (vs shared-memory spin)", f.p50, "µs",
        base->shm.p50, "shm_spin.p50_us");
    row("event", "fast_p99", "event p99, fast path (vs shared-memory spin p99)", f.p99, "µs", base->shm.p99,
        "shm_spin.p99_us");
    row("event", "nng_p50", "event p50 through plugbayd (vs raw NNG req/rep)", n.p50, "µs", base->nng.p50,
        "nng_reqrep_ipc.p50_us");
    row("event", "nng_p99", "event p99 through plugbayd (vs raw NNG req/rep p99)", n.p99, "µs", base->nng.p99,
        "nng_reqrep_ipc.p99_us");
}

/* p2p_figure times test/caller calling the C plugin's handle for a host (caller.via), on each of the host's
 * paths, beside a direct call of that handle timed just before: the difference is the plugin-to-plugin call. */
static void p2p_figure(bay_conn *fast, bay_conn *nng, const baselines *base)
{
    timed_command(fast, "install", CALLER_ID);
    char via_args[128];
    snprintf(via_args, sizeof via_args, "[\"%s\", %s]", targets[0].ext, targets[0].args_json);
    bench_call direct = {NULL, targets[0].ext, NULL}, via = {NULL, "caller.via", NULL};
    bay_value_from_json(targets[0].args_json, &direct.args, NULL, 0);
    bay_value_from_json(via_args, &via.args, NULL, 0);
    stats df, dn, vf, vn;
    time_both(direct, SAMPLES, fast, nng, &df, &dn);
    time_both(via, FEW_SAMPLES, fast, nng, &vf, &vn);
    bay_value_free(direct.args);
    bay_value_free(via.args);
    timed_command(fast, "uninstall", CALLER_ID);
    printf("\nplugin to plugin: %s calls %s for the host (caller.via)\n", CALLER_ID, targets[0].ext);
    row("p2p", "call_p50", "plugin-to-plugin call p50: via less direct, fast path host", vf.p50 - df.p50, "µs",
        base->nng.p50, "nng_reqrep_ipc.p50_us");
    row("p2p", "call_p50_nng_host", "the same with the host through plugbayd", vn.p50 - dn.p50, "µs", base->nng.p50,
        "nng_reqrep_ipc.p50_us");
    row("p2p", "via_fast_p50", "host -> caller.via -> handle p50, fast path host", vf.p50, "µs", base->nng.p50,
        "nng_reqrep_ipc.p50_us");
    row("p2p", "via_fast_p99", "the same p99", vf.p99, "µs", base->nng.p99, "nng_reqrep_ipc.p99_us");
    row("p2p", "direct_fast_p50", "host -> handle directly p50, fast path host", df.p50, "µs", base->shm.p50,
        "shm_spin.p50_us");
}

/* types_figure times the C plugin's handle through plugbayd untyped, then typed (bay_declare_typed: its
 * arguments and result checked by plugbayd, docs/types.md), one caller and pipelined. Last in a run: types stay
 * with the extension point, and keep its calls off the fast path. */
static void types_figure(bay_conn *nng, const baselines *base)
{
    bench_call b = {nng, targets[0].ext, NULL};
    bay_value_from_json(targets[0].args_json, &b.args, NULL, 0);
    stats plain = time_loop(call_one, &b, WARMUP, SAMPLES);
    double plain_rate = pipelined_per_s(&b);
    bay_error err;
    if (bay_declare_typed(nng, targets[0].ext, BAY_HANDLE,
                          "{\"args\": {\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\", "
                          "\"minLength\": 1}], \"maxItems\": 1}, \"result\": {\"type\": \"string\"}}",
                          &err) != 0) {
        fprintf(stderr, "bench: cannot type %s: %s\n", targets[0].ext, err.message);
        exit(1);
    }
    stats typed = time_loop(call_one, &b, WARMUP, SAMPLES);
    double typed_rate = pipelined_per_s(&b);
    bay_value_free(b.args);
    printf("\ntyped extension point: %s checked by plugbayd (--check-types strict), through plugbayd\n",
           targets[0].ext);
    row("types", "typed_p50", "typed call p50 (vs the same call untyped, this run)", typed.p50, "µs", plain.p50,
        "types.untyped_p50");
    row("types", "untyped_p50", "untyped call p50 (vs raw NNG req/rep)", plain.p50, "µs", base->nng.p50,
        "nng_reqrep_ipc.p50_us");
    row("types", "typed_pipelined", "typed calls/s, 64 in flight (vs the same untyped)", typed_rate, "/s",
        plain_rate, "types.untyped_pipelined");
}

/* stream_mb_s reads conform.stream's answer of mb MiB in chunks of chunk bytes (conform/c streams them,
 * docs/host-api.md#streamed-answers) on c's path (through plugbayd, or a fast channel); MB/s (10^6 bytes), and
 * chunks/s in *per_s. */
static double stream_mb_s(bay_conn *c, int mb, int chunk, double *per_s)
{
    long n = ((long)mb << 20) / chunk;
    char json[64];
    snprintf(json, sizeof json, "[%ld, %d]", n, chunk);
    bay_value *args = NULL;
    bay_value_from_json(json, &args, NULL, 0);
    bay_stream *s = NULL;
    bay_error err;
    double t0 = now_us();
    long bytes = 0, chunks = 0;
    int rc = bay_call_stream(c, "conform.stream", args, &(bay_call_opts){.timeout_ms = 600000, .context = "conform/c"},
                             &s, &err);
    bay_value *v = NULL;
    while (rc == 0 && (rc = bay_stream_next(s, -1, &v, &err)) == 0 && v) {
        size_t len = 0;
        bay_value_str(v, &len);
        bytes += (long)len;
        chunks++;
        bay_value_free(v);
    }
    double us = now_us() - t0;
    bay_stream_free(s);
    bay_value_free(args);
    if (rc || chunks != n) {
        fprintf(stderr, "bench: conform.stream: %s (%ld of %ld chunks)\n", rc ? err.message : "cut short", chunks, n);
        exit(1);
    }
    *per_s = (double)chunks / us * 1e6;
    return (double)bytes / us;
}

/* upload_mb_s uploads mb MiB in chunks of chunk bytes to conform.upload("sum") (conform/c counts their bytes,
 * docs/host-api.md#streamed-answers) on c's path and reads its answer; MB/s (10^6 bytes), and chunks/s in *per_s
 * (when not NULL). */
static double upload_mb_s(bay_conn *c, int mb, int chunk, double *per_s)
{
    long n = ((long)mb << 20) / chunk;
    char *bytes = calloc(1, (size_t)chunk);
    bay_value *args = bay_array(), *piece = bay_bin(bytes, (size_t)chunk), *answer = NULL;
    bay_array_push(args, bay_str("sum"));
    bay_stream *s = NULL;
    bay_error err;
    double t0 = now_us();
    long sent = 0;
    int rc = bay_call_upload(c, "conform.upload", args, &(bay_call_opts){.timeout_ms = 600000, .context = "conform/c"},
                             &s, &err);
    while (rc == 0 && sent < n && (rc = bay_stream_send(s, piece, -1, &err)) == 0)
        sent++;
    if (rc == 0 && (rc = bay_stream_send_end(s, &err)) == 0)
        rc = bay_stream_next(s, -1, &answer, &err);
    double us = now_us() - t0;
    long counted = (long)bay_value_int(bay_map_get(answer, "bytes"));
    bay_value_free(answer);
    bay_stream_free(s);
    bay_value_free(piece);
    bay_value_free(args);
    free(bytes);
    if (rc || counted != n * chunk) {
        fprintf(stderr, "bench: conform.upload: %s (%ld of %ld bytes)\n", rc ? err.message : "cut short", counted,
                n * chunk);
        exit(1);
    }
    if (per_s)
        *per_s = (double)n / us * 1e6;
    return (double)counted / us;
}

/* stream_figure times streamed answers from conform/c, and uploads to it, through plugbayd and on a fast channel,
 * beside a socketpair's throughput. */
static void stream_figure(bay_conn *fast, bay_conn *nng, const baselines *base)
{
    if (command(nng, "install", "conform/c", NULL) != 0 || command(nng, "load", "conform/c", NULL) != 0) {
        fprintf(stderr, "bench: cannot load conform/c\n");
        exit(1);
    }
    double big_per_s, small_per_s;
    double big = stream_mb_s(nng, STREAM_MB, STREAM_CHUNK, &big_per_s);
    double small = stream_mb_s(nng, STREAM_MB / 8, 1024, &small_per_s);
    double fast_big_per_s, fast_small_per_s;
    double fast_big = stream_mb_s(fast, STREAM_MB, STREAM_CHUNK, &fast_big_per_s);
    double fast_small = stream_mb_s(fast, STREAM_MB / 8, 1024, &fast_small_per_s);
    printf("\nstreams: conform.stream of conform/c read with bay_call_stream through plugbayd and on a fast channel "
           "(%d MiB in 64 KiB chunks, %d MiB in 1 KiB)\n", STREAM_MB, STREAM_MB / 8);
    row("streams", "mb_per_s_64k", "stream throughput, 64 KiB chunks (vs a socketpair, 64 KiB writes)", big, "MB/s",
        base->pair_mb_s, "socketpair_mb_s");
    row("streams", "chunks_per_s_64k", "chunks/s, 64 KiB chunks", big_per_s, "/s", 0, NULL);
    row("streams", "mb_per_s_1k", "stream throughput, 1 KiB chunks (vs a socketpair, 64 KiB writes)", small, "MB/s",
        base->pair_mb_s, "socketpair_mb_s");
    row("streams", "chunks_per_s_1k", "chunks/s, 1 KiB chunks", small_per_s, "/s", 0, NULL);
    row("streams", "fast_mb_per_s_64k", "on a fast channel, 64 KiB chunks (vs a socketpair, 64 KiB writes)", fast_big,
        "MB/s", base->pair_mb_s, "socketpair_mb_s");
    row("streams", "fast_chunks_per_s_64k", "on a fast channel, chunks/s, 64 KiB chunks", fast_big_per_s, "/s", 0,
        NULL);
    row("streams", "fast_mb_per_s_1k", "on a fast channel, 1 KiB chunks (vs a socketpair, 64 KiB writes)", fast_small,
        "MB/s", base->pair_mb_s, "socketpair_mb_s");
    row("streams", "fast_chunks_per_s_1k", "on a fast channel, chunks/s, 1 KiB chunks (vs through plugbayd)",
        fast_small_per_s, "/s", small_per_s, "streams.chunks_per_s_1k");

    double up_small_per_s, fast_up_small_per_s;
    double up = upload_mb_s(nng, STREAM_MB, STREAM_CHUNK, NULL);
    double up_small = upload_mb_s(nng, STREAM_MB / 8, 1024, &up_small_per_s);
    double fast_up = upload_mb_s(fast, STREAM_MB, STREAM_CHUNK, NULL);
    double fast_up_small = upload_mb_s(fast, STREAM_MB / 8, 1024, &fast_up_small_per_s);
    printf("\nuploads: conform.upload(\"sum\") of conform/c fed with bay_call_upload through plugbayd and on a fast "
           "channel (%d MiB in 64 KiB chunks, %d MiB in 1 KiB)\n", STREAM_MB, STREAM_MB / 8);
    row("streams", "upload_mb_per_s_64k", "upload throughput, 64 KiB chunks (vs a socketpair, 64 KiB writes)", up,
        "MB/s", base->pair_mb_s, "socketpair_mb_s");
    row("streams", "upload_mb_per_s_1k", "upload throughput, 1 KiB chunks (vs a socketpair, 64 KiB writes)", up_small,
        "MB/s", base->pair_mb_s, "socketpair_mb_s");
    row("streams", "upload_chunks_per_s_1k", "upload chunks/s, 1 KiB chunks", up_small_per_s, "/s", 0, NULL);
    row("streams", "fast_upload_mb_per_s_64k", "on a fast channel, 64 KiB chunks (vs a socketpair, 64 KiB writes)",
        fast_up, "MB/s", base->pair_mb_s, "socketpair_mb_s");
    row("streams", "fast_upload_mb_per_s_1k", "on a fast channel, 1 KiB chunks (vs a socketpair, 64 KiB writes)",
        fast_up_small, "MB/s", base->pair_mb_s, "socketpair_mb_s");
    row("streams", "fast_upload_chunks_per_s_1k", "on a fast channel, upload chunks/s, 1 KiB chunks (vs through "
        "plugbayd)", fast_up_small_per_s, "/s", up_small_per_s, "streams.upload_chunks_per_s_1k");
    timed_command(nng, "uninstall", "conform/c");
}

/* serving_workers returns how many of id's workers serve now, its own and its replicas (info's replica_workers). */
static int serving_workers(bay_conn *c, const char *id)
{
    bay_value *info = NULL;
    if (command(c, "info", id, &info) != 0)
        return -1;
    const bay_value *list = bay_map_get(info, "replica_workers");
    int n = strcmp(bay_value_str(bay_map_get(info, "state"), NULL), "loaded") == 0;
    for (size_t i = 0; i < bay_value_len(list); i++)
        n += strcmp(bay_value_str(bay_map_get(bay_array_get(list, i), "state"), NULL), "serving") == 0;
    bay_value_free(info);
    return n;
}

/* replicas_figure times calls/s of a plugin whose every call takes SLOW_MS, with 1, 2 and 4 replicas, 64 calls in
 * flight from one host, through plugbayd (docs/manifest.md#replicas), each beside the figure of 1. */
static void replicas_figure(bay_conn *nng)
{
    printf("\nreplicas: test/slow's slow.sleep(%d) as bench/repN, %d calls in flight, through plugbayd\n", SLOW_MS,
           IN_FLIGHT);
    double one = 0;
    for (size_t i = 0; i < sizeof replica_counts / sizeof *replica_counts; i++) {
        int n = replica_counts[i];
        char id[64], ext[64], key[32], what[120];
        snprintf(id, sizeof id, "bench/rep%d", n);
        snprintf(ext, sizeof ext, "rep%d.sleep", n);
        if (command(nng, "install", id, NULL) != 0 || command(nng, "load", id, NULL) != 0) {
            fprintf(stderr, "bench: cannot load %s\n", id);
            exit(1);
        }
        for (double t0 = now_us(); serving_workers(nng, id) < n; usleep(10000))
            if (now_us() - t0 > 30e6) {
                fprintf(stderr, "bench: %s did not start its %d replicas within 30 s\n", id, n);
                exit(1);
            }
        bench_call b = {nng, ext, NULL};
        char args[16];
        snprintf(args, sizeof args, "[%d]", SLOW_MS);
        bay_value_from_json(args, &b.args, NULL, 0);
        double rate = pipelined_per_s(&b);
        bay_value_free(b.args);
        timed_command(nng, "uninstall", id);
        if (n == 1)
            one = rate;
        snprintf(key, sizeof key, "calls_per_s_%d", n);
        snprintf(what, sizeof what, "calls/s, replicas %d (vs replicas 1, this run)", n);
        row("replicas", key, what, rate, "/s", one, "replicas.calls_per_s_1");
    }
}

/* time_into times rounds calls of one(arg) into t (µs). */
static void time_into(int (*one)(void *), void *arg, double *t, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        double t0 = now_us();
        if (one(arg)) {
            fprintf(stderr, "bench: round %d failed\n", i);
            exit(1);
        }
        t[i] = now_us() - t0;
    }
}

/* The fair-shares figure alternates FAIR_PHASES phases alone and flooded, so
 * that both see the same drift of this noisy machine (its idle CPUs wake
 * slower than busy ones, and other work comes and goes). */
#define FAIR_PHASES 10

/* fairness measures what a host flooding plugbayd (THREADS threads calling
 * without pause on a connection of its own) costs another host's calls
 * through plugbayd: p50 and p99 alone and during the flood, in alternating
 * phases, and the flooding host's calls per second. */
static json_t *fairness(const char *url, const struct target *t)
{
    bay_conn *victim = connect_path(url, false), *flooder = connect_path(url, false);
    bench_call v = {victim, t->ext, NULL}, fl = {flooder, t->ext, NULL};
    bay_value_from_json(t->args_json, &v.args, NULL, 0);
    fl.args = v.args;
    time_loop(call_one, &v, WARMUP, 1);
    enum { PHASE = SAMPLES / FAIR_PHASES };
    double *alone = malloc(sizeof *alone * SAMPLES), *flooded = malloc(sizeof *flooded * SAMPLES), flood_us = 0;
    long calls = 0;
    for (int ph = 0; ph < FAIR_PHASES; ph++) {
        time_into(call_one, &v, alone + ph * PHASE, PHASE);
        atomic_bool stop = false;
        rater r[THREADS];
        for (int i = 0; i < THREADS; i++) {
            r[i] = (rater){.call = fl, .stop = &stop};
            pthread_create(&r[i].thread, NULL, rate_loop, &r[i]);
        }
        double t0 = now_us();
        time_into(call_one, &v, flooded + ph * PHASE, PHASE);
        atomic_store(&stop, true);
        for (int i = 0; i < THREADS; i++) {
            pthread_join(r[i].thread, NULL);
            calls += r[i].calls;
        }
        flood_us += now_us() - t0;
    }
    stats a = percentiles(alone, PHASE * FAIR_PHASES), f = percentiles(flooded, PHASE * FAIR_PHASES);
    free(alone);
    free(flooded);
    double flood_rate = (double)calls / (flood_us / 1e6);
    bay_value_free(v.args);
    bay_close(victim);
    bay_close(flooder);
    char label[96];
    printf("\nfair shares: %s through plugbayd while another host floods it (%d phases alone and flooded, in turn)\n",
           t->ext, FAIR_PHASES);
    row("fairness", "alone_p50", "one host's call p50, alone", a.p50, "µs", 0, NULL);
    row("fairness", "alone_p99", "one host's call p99, alone", a.p99, "µs", 0, NULL);
    row("fairness", "flooded_p50", "the same p50 during the flood (vs alone)", f.p50, "µs", a.p50, "alone_p50");
    row("fairness", "flooded_p99", "the same p99 during the flood (vs alone)", f.p99, "µs", a.p99, "alone_p99");
    snprintf(label, sizeof label, "the flooding host's calls/s, %d threads", THREADS);
    row("fairness", "flood_calls_per_s", label, flood_rate, "/s", 0, NULL);
    return json_pack("{s:o, s:o, s:f}", "alone", stats_json(a), "flooded", stats_json(f), "flood_calls_per_s",
                     flood_rate);
}

/* soak makes n calls of t on c and compares the PSS of worker, broker and host after SOAK_FIRST calls and at the end. */
static json_t *soak(bay_conn *c, const char *path, const struct target *t, long n, pid_t broker)
{
    bench_call b = {c, t->ext, NULL};
    bay_value_from_json(t->args_json, &b.args, NULL, 0);
    long pids[3] = {worker_pid(c, t->id), broker, getpid()}, first[3], last[3];
    const char *names[3] = {"worker", "broker", "host"};
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        if (call_one(&b)) {
            fprintf(stderr, "bench: soak %s: call %ld of %ld failed\n", path, i + 1, n);
            exit(1);
        }
        if (i + 1 == SOAK_FIRST)
            for (int k = 0; k < 3; k++)
                first[k] = pss_kb(pids[k], "Pss");
    }
    double secs = (now_us() - t0) / 1e6;
    for (int k = 0; k < 3; k++)
        last[k] = pss_kb(pids[k], "Pss");
    bay_value_free(b.args);
    printf("  %s: %ld calls in %.1f s, no failure; PSS after %d calls -> after %ld:", path, n, secs, SOAK_FIRST, n);
    for (int k = 0; k < 3; k++)
        printf(" %s %ld -> %ld kB%s", names[k], first[k], last[k], k < 2 ? "," : "\n");
    return json_pack("{s:I, s:f, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}}", "calls", (json_int_t)n, "seconds", secs,
                     "worker_pss_kb", "first", (json_int_t)first[0], "last", (json_int_t)last[0], "broker_pss_kb",
                     "first", (json_int_t)first[1], "last", (json_int_t)last[1], "host_pss_kb", "first",
                     (json_int_t)first[2], "last", (json_int_t)last[2]);
}

/* own_id gives the copy of a plugin at dir the id it has there, when its manifest declares one
 * (docs/manifest.md: a declared id must be its folder's). Exits when it cannot. */
static void own_id(const char *dir, const char *id)
{
    char path[600];
    snprintf(path, sizeof path, "%s/plugin.json", dir);
    json_t *m = json_load_file(path, 0, NULL);
    if (m == NULL || (json_object_get(m, "id") && (json_object_set_new(m, "id", json_string(id)) != 0 ||
                                                   json_dump_file(m, path, JSON_INDENT(2)) != 0))) {
        fprintf(stderr, "bench: cannot give %s its id %s\n", path, id);
        exit(1);
    }
    json_decref(m);
}

/* replicate makes the copy of test/slow at dir ask for n replicas and provide repN.sleep alone. Exits when it cannot. */
static void replicate(const char *dir, int n)
{
    char path[600], name[64];
    snprintf(path, sizeof path, "%s/plugin.json", dir);
    snprintf(name, sizeof name, "rep%d.sleep", n);
    json_t *m = json_load_file(path, 0, NULL);
    if (m == NULL || json_object_set_new(m, "replicas", json_integer(n)) != 0 ||
        json_object_set_new(m, "provides", json_pack("[{s:s, s:s, s:s}]", "name", name, "kind", "handle", "function",
                                                     "slow_sleep")) != 0 ||
        json_dump_file(m, path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "bench: cannot give %s %d replicas\n", path, n);
        exit(1);
    }
    json_decref(m);
}

/* copy_plugin copies the plugin folder src to dst, making dst's parent; exits when it cannot. */
static void copy_plugin(const char *src, const char *dst)
{
    char *parent = strdup(dst), *mkdir_argv[] = {"/bin/mkdir", "-p", dirname(parent), NULL};
    char *cp_argv[] = {"/bin/cp", "-r", (char *)src, (char *)dst, NULL};
    bool ok = run(mkdir_argv) && run(cp_argv);
    free(parent);
    if (!ok)
        exit(1);
}

/* lay_out copies each built target plugin and CLONES copies of it into plugins, and the test plugins
 * CALLER_ID and STREAMER_ID from tests (when built), and SLOW_ID as bench/repN for each count of replicas;
 * returns a bitmask of the targets that exist (a bridge may not be built), with bit NTARGETS set when the caller
 * is there, NTARGETS + 1 when the streamer is, NTARGETS + 2 when the slow plugin is. */
static unsigned lay_out(const char *built, const char *tests, const char *plugins)
{
    unsigned present = 0;
    char src[512], dst[512], id[128];
    for (size_t t = 0; t < NTARGETS; t++) {
        snprintf(src, sizeof src, "%s/%s", built, targets[t].id);
        if (access(src, F_OK) != 0) {
            printf("(%s: %s is not built; skipped)\n", targets[t].language, src);
            continue;
        }
        for (int k = 0; k <= CLONES; k++) {
            if (k)
                clone_id(&targets[t], k, id, sizeof id);
            snprintf(dst, sizeof dst, "%s/%s", plugins, k ? id : targets[t].id);
            copy_plugin(src, dst);
            if (k)
                own_id(dst, id);
        }
        present |= 1u << t;
    }
    snprintf(src, sizeof src, "%s/%s", tests, CALLER_ID);
    snprintf(dst, sizeof dst, "%s/%s", plugins, CALLER_ID);
    if (access(src, F_OK) == 0) {
        copy_plugin(src, dst);
        present |= 1u << NTARGETS;
    } else {
        printf("(plugin to plugin: %s is not built; skipped)\n", src);
    }
    snprintf(src, sizeof src, "%s/%s", tests, SLOW_ID);
    for (size_t i = 0; access(src, F_OK) == 0 && i < sizeof replica_counts / sizeof *replica_counts; i++) {
        snprintf(id, sizeof id, "bench/rep%d", replica_counts[i]);
        snprintf(dst, sizeof dst, "%s/%s", plugins, id);
        copy_plugin(src, dst);
        replicate(dst, replica_counts[i]);
        present |= 1u << (NTARGETS + 2);
    }
    snprintf(src, sizeof src, "%s/%s", tests, STREAMER_ID);
    snprintf(dst, sizeof dst, "%s/%s", plugins, STREAMER_ID);
    if (access(src, F_OK) == 0) {
        copy_plugin(src, dst);
        present |= 1u << (NTARGETS + 1);
    } else {
        printf("(streams: %s is not built; skipped)\n", src);
    }
    return present;
}

/* compare_main runs plugbay-bench --compare OLD NEW [--fail-over PCT] (argv after --compare). */
static int compare_main(int argc, char **argv)
{
    char *end = NULL;
    double fail_over = argc == 4 && strcmp(argv[2], "--fail-over") == 0 ? strtod(argv[3], &end) : -1;
    if ((argc != 2 && argc != 4) || (argc == 4 && (end == NULL || end == argv[3] || *end || fail_over < 0))) {
        fprintf(stderr, "usage: plugbay-bench --compare OLD.json NEW.json [--fail-over PCT]\n");
        return 2;
    }
    return bay__bench_compare(argv[0], argv[1], fail_over, stdout);
}

int main(int argc, char **argv)
{
    long soak_calls = 1000000;
    if (argc > 1 && strcmp(argv[1], "--compare") == 0)
        return compare_main(argc - 2, argv + 2);
    if (argc > 2 && strcmp(argv[1], "--soak") == 0) {
        soak_calls = atol(argv[2]);
        argc -= 2;
        argv += 2;
    }
    const char *bin = argc > 1 ? argv[1] : BAY_BIN_DIR;
    const char *built = argc > 2 ? argv[2] : BAY_PLUGIN_DIR;
    const char *tests = argc > 3 ? argv[3] : BAY_TEST_PLUGIN_DIR;
    const char *json_path = getenv("BAY_BENCH_JSON") ? getenv("BAY_BENCH_JSON") : BAY_SOURCE_DIR "/bench/results.json";
    char dir[] = "/tmp/plugbay-bench.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char plugins[256], state[256], log[256], url[300], nngurl[300], exe[512];
    snprintf(plugins, sizeof plugins, "%s/plugins", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(log, sizeof log, "%s/plugbayd.log", dir);
    snprintf(url, sizeof url, "ipc://%s/plugbayd.sock", state);
    snprintf(nngurl, sizeof nngurl, "ipc://%s/baseline.sock", dir);
    snprintf(exe, sizeof exe, "%s/plugbayd", bin);
    unsigned present = lay_out(built, tests, plugins);

    baselines base = {.pair = socketpair_baseline(), .shm = shm_baseline(), .pair_mb_s = socketpair_mb_s()};
    base.nng = nng_baseline(nngurl);
    base.spawn = time_loop(true_one, NULL, 5, 50);
    base.idle_pss_kb = idle_process_pss();

    /* --exit-with-parent: a bench that gives up half way leaves no broker behind. */
    char *bargv[] = {exe, "--plugins", plugins, "--state", state, "--log", log, "--exit-with-parent", NULL};
    pid_t broker = spawn(bargv, false);
    if (broker == 0) {
        fprintf(stderr, "bench: cannot start %s\n", exe);
        return 1;
    }
    bay_conn *fast = connect_path(url, true), *nng = connect_path(url, false);

    json_t *out = json_pack("{s:{s:o, s:o, s:o, s:o, s:I, s:f}, s:[]}", "baselines", "socketpair", stats_json(base.pair),
                            "shm_spin", stats_json(base.shm), "nng_reqrep_ipc", stats_json(base.nng), "spawn_bin_true",
                            stats_json(base.spawn), "idle_process_pss_kb", (json_int_t)base.idle_pss_kb,
                            "socketpair_mb_s", base.pair_mb_s, "languages");
    figures = json_object();
    json_object_set_new(out, "figures", figures); /* out holds it; figures stays valid as long as out */
    printf("plugbay benchmark (%d calls per latency after %d warm-up; ratio = figure / its baseline)\n\n", SAMPLES,
           WARMUP);
    printf("baselines, same run\n");
    row(NULL, NULL, "shared-memory spin round trip p50", base.shm.p50, "µs", 0, NULL);
    row(NULL, NULL, "socketpair round trip p50", base.pair.p50, "µs", 0, NULL);
    row(NULL, NULL, "socketpair throughput, 64 KiB writes", base.pair_mb_s, "MB/s", 0, NULL);
    row(NULL, NULL, "raw NNG req/rep over ipc p50", base.nng.p50, "µs", 0, NULL);
    row(NULL, NULL, "spawn + wait /bin/true p50", base.spawn.p50, "µs", 0, NULL);
    row(NULL, NULL, "PSS of an idle process (/bin/sleep)", (double)base.idle_pss_kb, "kB", 0, NULL);
    for (size_t t = 0; t < NTARGETS; t++) {
        if ((present & (1u << t)) == 0)
            continue;
        json_array_append_new(json_object_get(out, "languages"), bench_target(fast, nng, broker, &targets[t], &base));
        if (t == 0) /* before the other languages' plugins, which answer app.started too, are installed */
            event_figure(fast, nng, &base);
        if (t == 0 && (present & (1u << NTARGETS)))
            p2p_figure(fast, nng, &base);
    }
    if (present & 1u)
        json_object_set_new(out, "fairness", fairness(url, &targets[0]));
    if (present & (1u << (NTARGETS + 1)))
        stream_figure(fast, nng, &base);
    if (present & (1u << (NTARGETS + 2)))
        replicas_figure(nng);
    if (soak_calls > 0 && (present & 1u)) {
        printf("\nsoak: %s on %s\n", targets[0].ext, targets[0].id);
        json_t *on_fast = soak(fast, "fast path", &targets[0], soak_calls, broker);
        json_t *on_nng = soak(nng, "through plugbayd", &targets[0], soak_calls, broker);
        json_object_set_new(out, "soak", json_pack("{s:o, s:o}", "fast", on_fast, "nng", on_nng));
    }
    if (present & 1u)
        types_figure(nng, &base);
    bay_close(fast);
    bay_close(nng);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);
    if (json_dump_file(out, json_path, JSON_INDENT(2)) == 0)
        printf("\nresults written to %s\n", json_path);
    json_decref(out);
    char *rm[] = {"/bin/rm", "-rf", dir, NULL};
    return run(rm) ? 0 : 1;
}
