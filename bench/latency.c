/* bench/latency.c — plugbay-latency: one host's call latency, for figures other hosts (bindings/python/bench.py) set beside it.
 *
 * Usage: plugbay-latency URL EXTPOINT JSON-ARGS CALLS. Connects as host:latency (the fast path is on unless
 * PLUGBAY_FASTPATH=0), makes 300 warm-up calls, then times CALLS calls one by one and prints one JSON line:
 * {"calls": N, "p50_us": ..., "p99_us": ..., "mean_us": ...}. Exit 1 when a call fails. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <plugbay/plugbay.h>

#define WARMUP 300

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* call_once makes one call and reports a failure on stderr. */
static int call_once(bay_conn *c, const char *ext, const bay_value *args)
{
    bay_error err;
    bay_value *res;
    int rc = bay_call(c, ext, args, NULL, &res, &err);
    if (rc != 0) {
        fprintf(stderr, "plugbay-latency: %s: %s (%s)\n", ext, err.message, bay_errname(rc));
        return rc;
    }
    bay_value_free(res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 || atoi(argv[4]) <= 0) {
        fprintf(stderr, "usage: plugbay-latency URL EXTPOINT JSON-ARGS CALLS\n");
        return 2;
    }
    int n = atoi(argv[4]);
    char why[256];
    bay_value *args;
    if (bay_value_from_json(argv[3], &args, why, sizeof why) != 0) {
        fprintf(stderr, "plugbay-latency: JSON-ARGS: %s\n", why);
        return 2;
    }
    bay_error err;
    bay_conn *c;
    if (bay_connect(argv[1], "latency", &c, &err) != 0) {
        fprintf(stderr, "plugbay-latency: %s\n", err.message);
        return 1;
    }
    double *t = malloc(sizeof *t * (size_t)n), sum = 0;
    int rc = t ? 0 : 1;
    for (int i = 0; rc == 0 && i < WARMUP; i++)
        rc = call_once(c, argv[2], args);
    for (int i = 0; rc == 0 && i < n; i++) {
        double t0 = now_us();
        rc = call_once(c, argv[2], args);
        t[i] = now_us() - t0;
        sum += t[i];
    }
    if (rc == 0) {
        qsort(t, (size_t)n, sizeof *t, by_value);
        printf("{\"calls\": %d, \"p50_us\": %.2f, \"p99_us\": %.2f, \"mean_us\": %.2f}\n", n, t[n / 2],
               t[(size_t)(n * 0.99)], sum / n);
    }
    free(t);
    bay_value_free(args);
    bay_close(c);
    return rc == 0 ? 0 : 1;
}
