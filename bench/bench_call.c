/* bench/bench_call.c — call latency host → plugbayd → C plugin → host, beside raw NNG and socketpair baselines. */
#include <errno.h>
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

static stats summarize(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return (stats){t[n / 2], t[n * 99 / 100]};
}

/* time_loop runs one(arg) WARMUP + SAMPLES times and returns the latency percentiles in µs. */
static stats time_loop(int (*one)(void *), void *arg)
{
    static double t[SAMPLES];
    for (int i = 0; i < WARMUP; i++)
        if (one(arg)) {
            fprintf(stderr, "bench: warm-up round trip failed\n");
            exit(1);
        }
    for (int i = 0; i < SAMPLES; i++) {
        double t0 = now_us();
        if (one(arg)) {
            fprintf(stderr, "bench: round trip %d failed\n", i);
            exit(1);
        }
        t[i] = now_us() - t0;
    }
    return summarize(t, SAMPLES);
}

/* --- baseline 1: a Unix socketpair round trip to a child process --- */
static int pair_one(void *arg)
{
    int fd = *(int *)arg;
    char b = 'x';
    return write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1;
}

static stats socketpair_baseline(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork(); /* before any NNG use in this process */
    if (pid == 0) {
        close(sv[0]);
        char b;
        while (read(sv[1], &b, 1) == 1 && write(sv[1], &b, 1) == 1)
            ;
        _exit(0);
    }
    close(sv[1]);
    stats s = time_loop(pair_one, &sv[0]);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return s;
}

/* --- baseline 2: raw NNG req/rep over ipc to a child process --- */
static int nng_one(void *arg)
{
    nng_socket s = *(nng_socket *)arg;
    char buf[16] = "ping", *reply = NULL;
    size_t len;
    if (nng_send(s, buf, 5, 0) != 0 || nng_recv(s, &reply, &len, NNG_FLAG_ALLOC) != 0)
        return 1;
    nng_free(reply, len);
    return 0;
}

static stats nng_baseline(const char *url)
{
    pid_t pid = fork(); /* the child initialises NNG on its own, after the fork */
    if (pid == 0) {
        nng_socket rep;
        if (nng_rep0_open(&rep) || nng_listen(rep, url, NULL, 0))
            _exit(1);
        for (;;) {
            nng_msg *m;
            if (nng_recvmsg(rep, &m, 0) || nng_sendmsg(rep, m, 0))
                _exit(0);
        }
    }
    nng_socket req;
    nng_req0_open(&req);
    while (nng_dial(req, url, NULL, 0) != 0)
        usleep(1000);
    stats s = time_loop(nng_one, &req);
    nng_close(req);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return s;
}

/* --- plugbay: host → broker → C plugin worker → broker → host --- */
static int greet_one(void *arg)
{
    bay_conn *c = arg;
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("bench"));
    int rc = bay_call(c, "greet", args, NULL, &res, NULL);
    bay_value_free(args);
    bay_value_free(res);
    return rc;
}

static pid_t start_broker(const char *bin, const char *plugins, const char *state, const char *log)
{
    char exe[512];
    snprintf(exe, sizeof exe, "%s/plugbayd", bin);
    char *argv[] = {exe, "--plugins", (char *)plugins, "--state", (char *)state, "--log", (char *)log,
                    "--autoinstall", NULL};
    pid_t pid;
    if (posix_spawn(&pid, exe, NULL, NULL, argv, environ) != 0) {
        fprintf(stderr, "bench: cannot start %s\n", exe);
        exit(1);
    }
    return pid;
}

/* connect_loaded connects once the broker answers and greet has a provider (30 s at most). */
static bay_conn *connect_loaded(const char *url)
{
    for (int i = 0; i < 3000; i++) {
        bay_conn *c;
        if (bay_connect(url, "bench", &c, NULL) == 0) {
            if (greet_one(c) == 0)
                return c;
            bay_close(c);
        }
        usleep(10000);
    }
    fprintf(stderr, "bench: plugbayd at %s did not serve greet within 30 s\n", url);
    exit(1);
}

static void row(const char *what, stats s, stats base)
{
    printf("%-44s %9.1f %9.1f %8.2fx\n", what, s.p50, s.p99, s.p50 / base.p50);
}

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : BAY_BIN_DIR;
    const char *plugins = argc > 2 ? argv[2] : BAY_PLUGIN_DIR;
    char dir[] = "/tmp/plugbay-bench.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char state[256], log[256], url[300], nngurl[300];
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(log, sizeof log, "%s/plugbayd.log", dir);
    snprintf(url, sizeof url, "ipc://%s/plugbayd.sock", state);
    snprintf(nngurl, sizeof nngurl, "ipc://%s/baseline.sock", dir);

    stats sp = socketpair_baseline();
    stats raw = nng_baseline(nngurl);
    pid_t broker = start_broker(bin, plugins, state, log);
    bay_conn *c = connect_loaded(url);
    stats call = time_loop(greet_one, c);
    bay_close(c);
    kill(broker, SIGTERM);
    waitpid(broker, NULL, 0);

    printf("plugbay call latency, %d samples each (µs; ratio = p50 / raw NNG req/rep p50)\n", SAMPLES);
    printf("%-44s %9s %9s %9s\n", "", "p50", "p99", "ratio");
    row("baseline: socketpair round trip", sp, raw);
    row("baseline: raw NNG req/rep over ipc", raw, raw);
    row("host -> plugbayd -> C plugin -> host", call, raw);
    printf("(two NNG hops each way: the broker relays; see docs/architecture.md)\n");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
