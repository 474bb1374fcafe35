/* tests/e2e/test_tls.c — plugbayd on the network: never in clear text; over tls+tcp:// only hosts whose certificate
 * chains to the authority it trusts get in, in the role it gives remote hosts. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define OPENSSL "/usr/bin/openssl"

static harness h;
static char pki[300]; /* DIR/pki: ca.pem, server.pem, client.pem, rogue.pem (another authority), rogue-client.pem */

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

/* sh runs a shell line in the pki folder, which must succeed. */
static void sh(const char *line)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", pki, line);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char err[2048];
    cr_assert_eq(h_run(&h, argv, NULL, 0, err, sizeof err), 0, "%s: %s", line, err);
}

/* expired makes NAME.pem, a certificate of the test authority for subject that ran out yesterday, and its key. */
static void expired(const char *name, const char *subject, const char *ext)
{
    char line[1024];
    snprintf(line, sizeof line,
             OPENSSL " req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr -subj %s "
                     "2>/dev/null && printf '%s\\n' > %s.ext && " OPENSSL " x509 -req -in %s.csr -CA ca.pem -CAkey ca.key "
                     "-CAcreateserial -out %s.crt -days -1 -extfile %s.ext 2>/dev/null && cat %s.crt %s.key > %s.pem",
             name, name, subject, ext, name, name, name, name, name, name, name);
    sh(line);
}

/* make_pki makes the authority, plugbayd's certificate (localhost) and a host's with scripts/tls-pki, as
 * docs/remote-hosts.md does, and a host's certificate from another authority with openssl. */
static void make_pki(void)
{
    snprintf(pki, sizeof pki, "%s/pki", h.dir);
    const char *argv[] = {BAY_SCRIPTS_DIR "/tls-pki", pki, "localhost", "client", "--days", "2", NULL};
    char err[2048];
    cr_assert_eq(h_run(&h, argv, NULL, 0, err, sizeof err), 0, "tls-pki: %s", err);
    sh(OPENSSL " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key -out rogue.pem "
               "-days 2 -subj /CN=client 2>/dev/null && cat rogue.pem rogue.key > rogue-client.pem");
    expired("expired-client", "/CN=client", "basicConstraints=CA:FALSE");
    expired("expired-server", "/CN=localhost", "subjectAltName=DNS:localhost");
}

/* pki_file returns DIR/pki/name (static, one at a time). */
static const char *pki_file(const char *name)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", pki, name);
    return path;
}

/* as_host sets what libplugbay shows and trusts: this host's certificate file and the authority of plugbayd's. */
static void as_host(const char *cert, const char *ca)
{
    char c[400], a[400];
    snprintf(c, sizeof c, "%s", pki_file(cert));
    snprintf(a, sizeof a, "%s", pki_file(ca));
    setenv("PLUGBAY_TLS_CERT", c, 1);
    setenv("PLUGBAY_TLS_CA", a, 1);
    setenv("PLUGBAY_TLS_SERVER_NAME", "localhost", 1);
}

static void setup(void)
{
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    make_pki();
}

static void stop(void) { h_cleanup(&h); }

TestSuite(tls, .init = setup, .fini = stop, .timeout = 120);

/* start_tls starts plugbayd on tls+tcp:// loopback showing server_cert (a file of the pki folder), with extra
 * options (NULL-terminated, or NULL). */
static void start_tls_as(const char *server_cert, const char *const *more)
{
    snprintf(h.url, sizeof h.url, "tls+tcp://127.0.0.1:%d", free_port());
    char cert[400], ca[400];
    snprintf(cert, sizeof cert, "%s", pki_file(server_cert));
    snprintf(ca, sizeof ca, "%s", pki_file("ca.pem"));
    const char *extra[12] = {"--listen", h.url, "--tls-cert", cert, "--tls-client-ca", ca};
    size_t n = 6;
    for (size_t i = 0; more && more[i] && n < 11; i++)
        extra[n++] = more[i];
    as_host("client.pem", "ca.pem");
    if (strcmp(server_cert, "server.pem") == 0)
        h_start(&h, extra);
    else /* no host can reach it to say it started: its log does */
        h_spawn(&h, extra);
}

static void start_tls(const char *const *more) { start_tls_as("server.pem", more); }

/* refused_at_start runs plugbayd with the options given and expects exit status 2 and needle on stderr. */
static void refused_at_start(const char *const *options, const char *needle)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbayd", "--plugins", h.plugins, "--state", h.state};
    size_t n = 5;
    for (size_t i = 0; options[i] && n < 15; i++)
        argv[n++] = options[i];
    argv[n] = NULL;
    char out[512], err[2048];
    cr_expect_eq(h_run(&h, argv, out, sizeof out, err, sizeof err), 2, "stderr: %s", err);
    cr_expect(strstr(err, needle), "stderr lacks \"%s\": %s", needle, err);
}

Test(tls, plain_tcp_and_tls_without_its_files_are_refused_at_start_saying_what_to_do)
{
    refused_at_start((const char *[]){"--listen", "tcp://127.0.0.1:7", NULL},
                     "plugbayd: will not listen on tcp://127.0.0.1:7: commands and calls would cross the network in "
                     "clear text, from anyone who reaches the port; listen on tls+tcp://127.0.0.1:7 with --tls-cert "
                     "FILE");
    refused_at_start((const char *[]){"--listen", "tls+tcp://127.0.0.1:7", NULL},
                     "needs --tls-cert FILE, a PEM file holding plugbayd's certificate and its private key, and "
                     "--tls-client-ca FILE");
    refused_at_start((const char *[]){"--listen", "tls+tcp://127.0.0.1:7", "--tls-cert", pki_file("server.pem"),
                                      "--tls-client-ca", "/nonexistent/ca.pem", NULL},
                     "plugbayd: --tls-client-ca /nonexistent/ca.pem: No such file or directory");
    refused_at_start((const char *[]){"--tls-cert", pki_file("server.pem"), NULL},
                     "--tls-cert and --tls-client-ca go with --listen tls+tcp://HOST:PORT");
    refused_at_start((const char *[]){"--remote-role", "root", NULL},
                     "--remote-role expects none, observer, host or admin, got \"root\"");
}

Test(tls, a_host_certified_by_the_authority_calls_in_the_remote_role)
{
    start_tls(NULL);
    bay_conn *c = h_connect(&h, "remote-app");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "tls", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, tls!");
    int rc = h_command(c, "unload", "example/hello", &err);
    cr_expect_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    cr_expect_str_eq(err.message, "host:remote-app (role host) may not run unload: it needs role admin");
    cr_expect(h_wait_log(&h, "[host:remote-app] connected (pid "));
    bay_close(c);
}

Test(tls, a_remote_admin_runs_commands_when_plugbayd_says_so)
{
    start_tls((const char *[]){"--remote-role", "admin", NULL});
    bay_conn *c = h_connect(&h, "remote-admin");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "example/hello", &err), 0, "%s", err.message);
    cr_expect(h_wait_log(&h, "[audit] host:remote-admin (role admin): reload {\"id\":\"example/hello\"}: done"));
    bay_close(c);
}

/* expect_refused connects as a host showing cert and trusting ca, and expects code with needle. */
static void expect_refused(const char *cert, const char *ca, int code, const char *needle)
{
    if (cert)
        as_host(cert, ca);
    else
        unsetenv("PLUGBAY_TLS_CERT");
    bay_conn *c = NULL;
    bay_error err;
    int rc = bay_connect(h.url, "stranger", &c, &err);
    cr_expect_eq(rc, code, "%s/%s: got %s: %s", cert ? cert : "no certificate", ca, bay_errname(rc), err.message);
    cr_expect(strstr(err.message, needle), "message lacks \"%s\": %s", needle, err.message);
    if (rc == 0)
        bay_close(c);
}

Test(tls, hosts_without_a_certificate_of_the_authority_and_servers_not_trusted_are_refused)
{
    start_tls(NULL);
    bay_conn *good = h_connect(&h, "good");
    expect_refused("rogue-client.pem", "ca.pem", BAY_ECONN, "the TLS handshake failed");
    expect_refused("client.pem", "rogue.pem", BAY_ECONN, "the TLS handshake failed");
    expect_refused("expired-client.pem", "ca.pem", BAY_ECONN, "the TLS handshake failed");
    expect_refused(NULL, "ca.pem", BAY_EINVAL, "set PLUGBAY_TLS_CERT to the file of this host's certificate");
    unsetenv("PLUGBAY_TLS_CA");
    setenv("PLUGBAY_TLS_CERT", pki_file("client.pem"), 1);
    bay_error err;
    bay_conn *c = NULL;
    cr_expect_eq(bay_connect(h.url, "stranger", &c, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "set PLUGBAY_TLS_CA to the file of the certificate authority"), "%s", err.message);
    char out[64];
    cr_assert_eq(h_call_str(good, "greet", "still", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, still!");
    bay_close(good);
}

Test(tls, a_plugbayd_whose_certificate_ran_out_is_not_trusted)
{
    start_tls_as("expired-server.pem", NULL);
    cr_assert(h_wait_log(&h, "listening on tls+tcp://127.0.0.1:"));
    expect_refused("client.pem", "ca.pem", BAY_ECONN, "the TLS handshake failed");
}
