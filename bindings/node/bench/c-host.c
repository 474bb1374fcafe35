/* bindings/node/bench/c-host.c — the C figure beside bench.js's: p50/p99 of bay_call of one extension point, in µs.
 * Usage: c-host URL NAME ARG CALLS (PLUGBAY_FASTPATH=0 in the environment for the path through plugbayd). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <plugbay/plugbay.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: c-host URL NAME ARG CALLS\n");
        return 2;
    }
    int calls = atoi(argv[4]);
    bay_error err;
    bay_conn *c;
    if (bay_connect(argv[1], "bench-c", &c, &err) != 0) {
        fprintf(stderr, "connect: %s\n", err.message);
        return 1;
    }
    bay_value *args = bay_array();
    bay_array_push(args, bay_str(argv[3]));
    double *t = calloc((size_t)calls, sizeof *t);
    for (int i = -calls / 10; i < calls; i++) { /* a tenth more as warm-up (and the fast channel's grant) */
        bay_value *res;
        double t0 = now_us();
        if (bay_call(c, argv[2], args, NULL, &res, &err) != 0) {
            fprintf(stderr, "call: %s\n", err.message);
            return 1;
        }
        if (i >= 0)
            t[i] = now_us() - t0;
        bay_value_free(res);
    }
    qsort(t, (size_t)calls, sizeof *t, by_value);
    printf("%.2f %.2f\n", t[calls / 2], t[calls * 99 / 100]);
    free(t);
    bay_value_free(args);
    bay_close(c);
    return 0;
}
