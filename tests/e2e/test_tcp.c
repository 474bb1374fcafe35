/* tests/e2e/test_tcp.c — plugbayd listening on tcp:// loopback: hosts connect and call as over ipc. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* free_port asks the kernel for a loopback port that is free now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

Test(tcp, hosts_call_plugins_over_tcp_loopback, .timeout = 60)
{
    harness h;
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    char listen[64];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", free_port());
    snprintf(h.url, sizeof h.url, "%s", listen);
    const char *extra[] = {"--listen", listen, NULL};
    h_start(&h, extra);
    bay_conn *c = h_connect(&h, "tcp-host");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "tcp", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, tcp!");
    bay_close(c);
    h_cleanup(&h);
}
