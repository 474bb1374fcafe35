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

#include <sodium.h>

#include "harness.h"
#include "key.h"
#include "wire.h"

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

static void stop(void)
{
    unsetenv("PLUGBAY_KEY");
    h_cleanup(&h);
}

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
    bool keys_only = false; /* --remote-role none: the harness's host, proving no key, may not ask its status */
    for (size_t i = 0; more && more[i]; i++)
        keys_only = keys_only || (strcmp(more[i], "none") == 0 && i > 0 && strcmp(more[i - 1], "--remote-role") == 0);
    if (strcmp(server_cert, "server.pem") == 0 && !keys_only)
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
    const char *loaded[] = {"example/hello", NULL}; /* greet is called at the end: loaded by then on any machine */
    h_wait_loaded(good, loaded);
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

/* ---- hosts that prove a key (PLUGBAY_KEY) ------------------------------------------------------------------- */

/* cli runs the plugbay command line with words (NULL-terminated) against h.url, which must succeed; its output goes
 * to out (len bytes) when not NULL. */
static void cli(const char *const *words, char *out, size_t len)
{
    char o[4096], err[2048];
    cr_assert_eq(h_plugbay(&h, words, o, sizeof o, err, sizeof err), 0, "plugbay %s: %s", words[0], err);
    if (out)
        snprintf(out, len, "%s", o);
}

/* key_file returns DIR/pki/NAME (the secret key) or, with pub, DIR/pki/NAME.pub; static, one at a time. */
static const char *key_file(const char *name, bool pub)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s%s", pki, name, pub ? ".pub" : "");
    return path;
}

/* keygen makes the key pair DIR/pki/NAME and NAME.pub with plugbay keygen. */
static void keygen(const char *name)
{
    char out[400];
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "keygen", "--out", key_file(name, false), NULL};
    cr_assert_eq(h_run(&h, argv, out, sizeof out, NULL, 0), 0);
}

/* key_id returns the id of key NAME, as host list shows it (static, one at a time). */
static const char *key_id(const char *name)
{
    static char id[BAY_KEY_ID_SIZE];
    unsigned char pk[BAY_KEY_PUBLIC_BYTES];
    bay_error err;
    cr_assert_eq(bay__key_read_public(key_file(name, true), pk, NULL, 0, &err), 0, "%s", err.message);
    bay__key_id(pk, id);
    return id;
}

/* start_with_keys makes the keys watcher (added as an observer), limited (a host granted call:greet), admin (an
 * admin) and stranger (never added), adds the first three with plugbay host add through a plugbayd that lets remote
 * hosts be admins, and starts plugbayd again on the same state with the options more (NULL-terminated, or NULL). */
static void start_with_keys(const char *const *more)
{
    const char *names[] = {"watcher", "limited", "admin", "stranger"};
    for (size_t i = 0; i < 4; i++)
        keygen(names[i]);
    start_tls((const char *[]){"--remote-role", "admin", NULL});
    char pub[400];
    snprintf(pub, sizeof pub, "%s", key_file("watcher", true));
    cli((const char *[]){"host", "add", "watcher", "--key", pub, "--role", "observer", NULL}, NULL, 0);
    snprintf(pub, sizeof pub, "%s", key_file("limited", true));
    cli((const char *[]){"host", "add", "limited", "--key", pub, "--role", "host", "--grant", "call:greet", NULL},
        NULL, 0);
    snprintf(pub, sizeof pub, "%s", key_file("admin", true));
    cli((const char *[]){"host", "add", "boss", "--key", pub, "--role", "admin", NULL}, NULL, 0);
    h_stop(&h);
    start_tls(more);
    char started[500];
    snprintf(started, sizeof started, "listening on %s ", h.url);
    cr_assert(h_wait_log(&h, started));
}

/* connect_with connects as host name proving key (NULL: no PLUGBAY_KEY); returns bay_connect's code, *c when 0. */
static int connect_with(const char *key, const char *name, bay_conn **c, bay_error *err)
{
    if (key)
        setenv("PLUGBAY_KEY", key_file(key, false), 1);
    else
        unsetenv("PLUGBAY_KEY");
    int rc = bay_connect(h.url, name, c, err);
    unsetenv("PLUGBAY_KEY");
    return rc;
}

/* keyed connects as host name proving key, which must work. */
static bay_conn *keyed(const char *key, const char *name)
{
    bay_conn *c = NULL;
    bay_error err;
    cr_assert_eq(connect_with(key, name, &c, &err), 0, "%s: %s", key, err.message);
    return c;
}

/* dropped tells whether plugbayd let go of the connection *(bay_conn **)arg: a list on it fails with BAY_ECONN. */
static bool dropped(void *arg)
{
    bay_value *out = NULL;
    bay_error err;
    int rc = bay_command(*(bay_conn **)arg, "list", NULL, 1000, &out, &err);
    bay_value_free(out);
    return rc == BAY_ECONN;
}

Test(tls, a_listed_key_gets_its_own_role_and_grants_instead_of_the_remote_role)
{
    start_with_keys(NULL);
    char out[4096], want[300];
    cli((const char *[]){"host", "list", NULL}, out, sizeof out);
    snprintf(want, sizeof want, "watcher  -    %s  observer  -", key_id("watcher"));
    cr_expect(strstr(out, want), "host list lacks \"%s\":\n%s", want, out);

    bay_conn *w = keyed("watcher", "watch-app");
    cr_assert(h_wait_state(w, "example/hello", "loaded", H_WAIT_MS), "an observer lists and reads");
    char res[64];
    bay_error err;
    int rc = h_call_str(w, "greet", "x", 5000, res, sizeof res, &err);
    cr_expect_eq(rc, BAY_EPERM, "an observer calls: %s %s", bay_errname(rc), err.message);
    snprintf(want, sizeof want, "host:watch-app (key watcher %s, role observer) may not send CALL frames",
             key_id("watcher"));
    cr_expect(strstr(err.message, want), "message lacks \"%s\": %s", want, err.message);
    snprintf(want, sizeof want, "[host:watch-app] proved key %s of host watcher: role observer", key_id("watcher"));
    cr_expect(h_wait_log(&h, want), "log lacks %s", want);
    snprintf(want, sizeof want, "[audit] host:watch-app (key watcher %s, role observer): auth: done", key_id("watcher"));
    cr_expect(h_wait_log(&h, want), "log lacks %s", want);

    bay_conn *l = keyed("limited", "limited-app");
    cr_assert_eq(h_call_str(l, "greet", "key", 5000, res, sizeof res, &err), 0, "%s", err.message);
    cr_expect_str_eq(res, "Hello, key!");
    rc = h_call_str(l, "other.greet", "x", 5000, res, sizeof res, &err);
    cr_expect_eq(rc, BAY_EPERM, "outside its grants: %s %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "was not granted call:other.greet"), "%s", err.message);
    rc = h_command(l, "unload", "example/hello", &err);
    cr_expect_eq(rc, BAY_EPERM, "%s", err.message);

    bay_conn *a = keyed("admin", "boss-app");
    cr_expect_eq(h_command(a, "reload", "example/hello", &err), 0, "an admin key over the remote role host: %s",
                 err.message);
    snprintf(want, sizeof want, "[audit] host:boss-app (key boss %s, role admin): reload", key_id("admin"));
    cr_expect(h_wait_log(&h, want), "log lacks %s", want);

    setenv("PLUGBAY_KEY", key_file("admin", false), 1); /* the command line proves a key as libplugbay does */
    cli((const char *[]){"host", "remove", "watcher", NULL}, NULL, 0);
    unsetenv("PLUGBAY_KEY");
    cr_expect(h_wait_until(dropped, &w, H_WAIT_MS), "removing a keyed host ends the connections that proved its key");
    bay_conn *again = NULL;
    cr_expect_eq(connect_with("watcher", "watch-app", &again, &err), BAY_EPERM, "a removed key: %s", err.message);
    cr_expect(strstr(err.message, "is no host's key"), "%s", err.message);
    cr_assert_eq(h_call_str(l, "greet", "on", 5000, res, sizeof res, &err), 0, "another key's host goes on: %s",
                 err.message);
    bay_close(a);
    bay_close(l);
    bay_close(w);
}

Test(tls, an_unknown_key_is_refused_saying_how_to_add_it_and_other_hosts_go_on)
{
    start_with_keys(NULL);
    bay_conn *good = keyed("limited", "good");
    bay_conn *c = NULL;
    bay_error err;
    int rc = connect_with("stranger", "stranger", &c, &err);
    cr_expect_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    char want[600], id[BAY_KEY_ID_SIZE];
    snprintf(id, sizeof id, "%s", key_id("stranger"));
    snprintf(want, sizeof want,
             "refused key %s (PLUGBAY_KEY=%s): key %s is no host's key; an admin adds it with `plugbay host add NAME "
             "--key FILE.pub --role observer` (or --role host, or admin)",
             id, key_file("stranger", false), id);
    cr_expect(strstr(err.message, want), "message lacks \"%s\": %s", want, err.message);
    cr_expect(h_wait_log(&h, "[audit] host:stranger (role host): auth: BAY_EPERM: key "));
    char res[64];
    cr_assert_eq(h_call_str(good, "greet", "still", 5000, res, sizeof res, &err), 0, "%s", err.message);
    cr_expect_str_eq(res, "Hello, still!");
    bay_close(good);
}

/* raw opens a connection of its own as host name, speaking frames (protocol/wire.c), and gives its token. */
static nng_socket raw(const char *name, char **token)
{
    char *url = NULL;
    bay_error err;
    nng_socket s;
    cr_assert_eq(bay__wire_rendezvous(h.url, "host", name, 5000, &url, token, &err), 0, "%s", err.message);
    cr_assert_eq(bay__wire_connect(url, "host", name, *token, 5000, &s, NULL, &err), 0, "%s", err.message);
    free(url);
    return s;
}

/* send_auth sends COMMAND auth id with key pk and sig (packed by hand: a map of two binaries). */
static void send_auth(nng_socket s, uint64_t id, const unsigned char *pk, const unsigned char *sig)
{
    bay_value *args = bay_map();
    bay_map_set(args, "key", bay_bin(pk, BAY_KEY_PUBLIC_BYTES));
    bay_map_set(args, "signature", bay_bin(sig, BAY_KEY_SIGNATURE_BYTES));
    void *packed = NULL;
    size_t len = 0;
    cr_assert_eq(bay_value_pack(args, &packed, &len), 0);
    bay_value_free(args);
    bay__frame f = {.type = BAY_F_COMMAND, .id = id, .name = "auth", .raw = packed, .raw_len = len};
    cr_assert_eq(bay__wire_send(s, &f, 0), 0);
    free(packed);
}

/* answer receives the answer to id on s: 0 for RESULT, else the ERROR's code with its message in msg. */
static int answer(nng_socket s, uint64_t id, char *msg, size_t len)
{
    nng_msg *m;
    bay__frame f;
    bay_error err;
    cr_assert_eq(bay__wire_recv(s, 5000, &m, &f, &err), 0, "%s", err.message);
    cr_assert_eq(f.id, id);
    int rc = f.type == BAY_F_ERROR ? (int)f.code : 0;
    snprintf(msg, len, "%s", f.type == BAY_F_ERROR ? f.message : "");
    cr_assert(f.type == BAY_F_ERROR || f.type == BAY_F_RESULT, "got %s", bay__frame_type_name(f.type));
    bay__frame_release(&f);
    nng_msg_free(m);
    return rc;
}

Test(tls, a_handshake_recorded_on_one_connection_is_refused_on_another)
{
    start_with_keys((const char *[]){"--remote-role", "none", NULL});
    unsigned char sk[BAY_KEY_SECRET_BYTES], pk[BAY_KEY_PUBLIC_BYTES], sig[BAY_KEY_SIGNATURE_BYTES];
    bay_error err;
    cr_assert_eq(bay__key_read_secret(key_file("limited", false), sk, &err), 0, "%s", err.message);
    memcpy(pk, sk + BAY_KEY_SECRET_BYTES - BAY_KEY_PUBLIC_BYTES, sizeof pk);
    char *token1 = NULL, *token2 = NULL, msg[512];
    nng_socket first = raw("replayer", &token1), second = raw("replayer", &token2);
    cr_assert_str_neq(token1, token2);
    bay__key_sign_auth(sk, token1, "replayer", sig);
    send_auth(first, 7, pk, sig);
    cr_expect_eq(answer(first, 7, msg, sizeof msg), 0, "the handshake of its own connection: %s", msg);
    send_auth(first, 8, pk, sig);
    cr_expect_eq(answer(first, 8, msg, sizeof msg), BAY_EPERM, "a second auth: %s", msg);
    cr_expect(strstr(msg, "auth comes once, as the first frame after HELLO"), "%s", msg);

    send_auth(second, 9, pk, sig); /* the first connection's, replayed */
    cr_expect_eq(answer(second, 9, msg, sizeof msg), BAY_EPERM, "a replayed handshake: %s", msg);
    char want[300];
    snprintf(want, sizeof want,
             "the signature does not prove key %s on this connection (it was made for another one: a handshake "
             "cannot be replayed)", key_id("limited"));
    cr_expect(strstr(msg, want), "message lacks \"%s\": %s", want, msg);
    cr_expect(h_wait_log(&h, "[audit] host:replayer (role none): auth: BAY_EPERM: the signature does not prove key"));
    sodium_memzero(sk, sizeof sk);
    nng_close(first);
    nng_close(second);
    free(token1);
    free(token2);
    bay_conn *c = keyed("limited", "after");
    char res[64];
    cr_assert_eq(h_call_str(c, "greet", "after", 5000, res, sizeof res, &err), 0, "%s", err.message);
    bay_close(c);
}

Test(tls, remote_role_none_lets_a_host_do_nothing_until_it_proves_a_key)
{
    start_with_keys((const char *[]){"--remote-role", "none", NULL});
    bay_conn *c = keyed(NULL, "keyless"), *l = keyed("limited", "keyed");
    bay_value *out = NULL;
    bay_error err;
    int rc = bay_command(c, "list", NULL, 5000, &out, &err);
    cr_expect_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "host:keyless (role none) may do nothing until it proves a key: set PLUGBAY_KEY"),
              "%s", err.message);
    char res[64];
    cr_expect_eq(h_call_str(c, "greet", "x", 5000, res, sizeof res, &err), BAY_EPERM, "%s", err.message);
    cr_expect(h_wait_until(dropped, &c, H_WAIT_MS), "a host that proves no key is let go after the handshake time");
    cr_expect(h_wait_log(&h, "[host:keyless] no key proved within 5000 ms; letting go"));
    cr_assert_eq(h_call_str(l, "greet", "keyed", 5000, res, sizeof res, &err), 0, "%s", err.message);
    cr_expect_str_eq(res, "Hello, keyed!");
    bay_close(c);
    bay_close(l);
}

Test(tls, a_key_file_others_can_read_or_no_secret_key_is_refused_by_the_host)
{
    start_with_keys(NULL);
    char path[400];
    snprintf(path, sizeof path, "%s", key_file("limited", false));
    cr_assert_eq(chmod(path, 0644), 0);
    bay_conn *c = NULL;
    bay_error err;
    int rc = connect_with("limited", "careless", &c, &err);
    cr_expect_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    char want[600];
    snprintf(want, sizeof want,
             "PLUGBAY_KEY: %s: the secret key can be read by other users (mode 0644); make it private with chmod 600",
             path);
    cr_expect(strstr(err.message, want), "message lacks \"%s\": %s", want, err.message);
    cr_assert_eq(chmod(path, 0600), 0);
    setenv("PLUGBAY_KEY", key_file("limited", true), 1);
    rc = bay_connect(h.url, "careless", &c, &err);
    cr_expect_eq(rc, BAY_EINVAL, "a public key file: %s %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "is a public key; give the secret key file"), "%s", err.message);
    setenv("PLUGBAY_KEY", "/nonexistent/key", 1);
    rc = bay_connect(h.url, "careless", &c, &err);
    cr_expect_eq(rc, BAY_EIO, "no file: %s %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "/nonexistent/key: cannot read the secret key: No such file or directory"), "%s",
              err.message);
    unsetenv("PLUGBAY_KEY");
    bay_conn *good = keyed("limited", "careful");
    bay_close(good);
}
