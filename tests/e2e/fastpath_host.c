/* tests/e2e/fastpath_host.c — a host for test_fastpath to kill: takes a fast channel, says "ready", then makes a long call.
 *
 * Usage: fastpath_host URL. It calls slow.echo (which opens the channel),
 * writes "ready\n" to stdout, then calls slow.sleep(30000) until it is killed. */
#include <stdio.h>

#include <plugbay/plugbay.h>

int main(int argc, char **argv)
{
    bay_conn *c;
    bay_error err;
    if (argc != 2 || bay_connect(argv[1], "doomed", &c, &err) != 0) {
        fprintf(stderr, "fastpath_host: cannot connect: %s\n", argc == 2 ? err.message : "usage: fastpath_host URL");
        return 2;
    }
    bay_value *args = bay_array(), *res = NULL;
    if (bay_call(c, "slow.echo", args, NULL, &res, &err) != 0) {
        fprintf(stderr, "fastpath_host: slow.echo: %s\n", err.message);
        return 1;
    }
    bay_value_free(res);
    printf("ready\n");
    fflush(stdout);
    bay_array_push(args, bay_int(30000));
    bay_call_opts o = {.timeout_ms = 60000};
    bay_call(c, "slow.sleep", args, &o, &res, &err);
    return 0;
}
