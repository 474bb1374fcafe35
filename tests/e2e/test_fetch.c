/* tests/e2e/test_fetch.c — an index built with plugbay publish, served by a real HTTP server on loopback, fetched with plugbay search and download; each refusal in one line. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PYTHON "/usr/bin/python3.11"

extern char **environ;

static harness h;
static char www[400];     /* DIR/www: what the HTTP server serves; DIR/www/index is the index */
static char trusted[400]; /* DIR/trusted: the index owner's public key */
static char sha256[65];   /* of the package published */
static pid_t servers[2];  /* the HTTP server and the server that never answers; 0 when not running */
static int port;          /* the HTTP server's */

/* What one run of plugbay printed and how it ended. */
typedef struct result {
    int status;
    char out[8192], err[4096];
} result;

#define PLUGBAY(r, ...) \
    ((r)->status = h_run(&h, (const char *const[]){BAY_BIN_DIR "/plugbay", __VA_ARGS__, NULL}, (r)->out, \
                         sizeof (r)->out, (r)->err, sizeof (r)->err))

static char *in(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", h.dir, rel);
    return buf;
}

/* ok asserts that r succeeded. */
static void ok(const result *r)
{
    cr_assert_eq(r->status, 0, "exit status %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
}

/* refused asserts a failure: exit status 1, nothing on stdout, one line on stderr holding every word of words. */
static void refused(const result *r, const char *const *words)
{
    cr_assert_eq(r->status, 1, "exit status %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    cr_assert_str_eq(r->out, "");
    size_t len = strlen(r->err);
    cr_assert(len > 0 && strchr(r->err, '\n') == r->err + len - 1, "one line: %s", r->err);
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(r->err, words[i]), "\"%s\" not in: %s", words[i], r->err);
}

#define REFUSED(r, ...) refused(r, (const char *const[]){__VA_ARGS__, NULL})

/* free_port returns a loopback port nothing listens on (now). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool accepting(void *arg)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*(int *)arg),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool yes = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return yes;
}

/* serve starts argv (a server listening on port p) as servers[slot] and waits until it accepts connections. */
static void serve(int slot, const char *const *argv, int p)
{
    char log[PATH_MAX];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, in(log, "server.log"), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    cr_assert_eq(posix_spawn(&servers[slot], argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert(h_wait_until(accepting, &p, H_WAIT_MS), "%s does not accept connections on port %d", argv[0], p);
}

/* url writes the URL of the folder DIR/www/rel on the HTTP server to buf. */
static char *url(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "http://127.0.0.1:%d/%s", port, rel);
    return buf;
}

static void key(const char *name)
{
    char path[PATH_MAX];
    result r;
    PLUGBAY(&r, "keygen", "--out", in(path, name), "--comment", name);
    ok(&r);
}

static void setup(void)
{
    char path[PATH_MAX], pkg[PATH_MAX], owner[PATH_MAX], verified[PATH_MAX], src[PATH_MAX], index[PATH_MAX], p[16];
    result r;
    h_setup(&h, (const char *const[]){"example/hello", NULL});
    cr_assert_eq(mkdir(in(path, "keys"), 0700) | mkdir(in(trusted, "trusted"), 0700) |
                 mkdir(in(verified, "verified"), 0700) | mkdir(in(www, "www"), 0700) |
                 mkdir(in(index, "www/index"), 0700), 0);
    key("keys/owner");
    key("keys/ada");
    cr_assert_eq(rename(in(path, "keys/owner.pub"), in(src, "trusted/owner.pub")), 0);
    cr_assert_eq(rename(in(path, "keys/ada.pub"), in(src, "verified/ada.pub")), 0);
    snprintf(src, sizeof src, "%s/example/hello", h.plugins);
    PLUGBAY(&r, "pack", src, "--key", in(path, "keys/ada"), "-o", in(pkg, "hello.bayplug"));
    ok(&r);
    cr_assert_eq(sscanf(strstr(r.out, "sha256 "), "sha256 %64[0-9a-f]", sha256), 1, "%s", r.out);
    PLUGBAY(&r, "publish", pkg, index, "--key", in(owner, "keys/owner"), "--verified-keys", verified);
    ok(&r);
    cr_assert(strstr(r.out, "published as "), "%s", r.out);
    port = free_port();
    snprintf(p, sizeof p, "%d", port);
    serve(0, (const char *const[]){PYTHON, "-m", "http.server", "--bind", "127.0.0.1", p, "--directory", www, NULL},
          port);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++)
        if (servers[i] > 0) {
            kill(servers[i], SIGTERM);
            waitpid(servers[i], NULL, 0);
            servers[i] = 0;
        }
    h_cleanup(&h);
}

TestSuite(fetch, .init = setup, .fini = teardown);

/* copy copies the served index to DIR/www/rel, for a test to damage. */
static void copy(const char *rel)
{
    char from[PATH_MAX], to[PATH_MAX];
    result r;
    r.status = h_run(&h, (const char *const[]){"/bin/cp", "-r", in(from, "www/index"), in(to, rel), NULL}, r.out,
                     sizeof r.out, r.err, sizeof r.err);
    ok(&r);
}

/* download runs plugbay download example/hello from the index at DIR/www/rel into DIR/got.bayplug. */
static void download(result *r, const char *rel)
{
    char u[PATH_MAX], got[PATH_MAX];
    PLUGBAY(r, "download", "example/hello@^1", "--index", url(u, rel), "--trusted-keys", trusted, "-o",
            in(got, "got.bayplug"));
}

/* nothing_left asserts that DIR holds no got.bayplug, whole or partial. */
static void nothing_left(void)
{
    DIR *d = opendir(h.dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        cr_assert(strstr(e->d_name, "got.bayplug") == NULL, "%s left in %s", e->d_name, h.dir);
    closedir(d);
}

/* alter writes text at offset of the file DIR/www/rel. */
static void alter(const char *rel, off_t offset, const char *text)
{
    char path[PATH_MAX];
    int fd = open(in(path, rel), O_WRONLY | O_CLOEXEC);
    cr_assert(fd >= 0 && pwrite(fd, text, strlen(text), offset) == (ssize_t)strlen(text), "cannot write %s", path);
    close(fd);
}

Test(fetch, search_and_download_a_package_over_http)
{
    char u[PATH_MAX], got[PATH_MAX], published[PATH_MAX];
    result r;
    PLUGBAY(&r, "search", "GREETS", "--index", url(u, "index"), "--trusted-keys", trusted);
    ok(&r);
    cr_assert(strstr(r.out, "example/hello 1.0.0: Greets people by name (signed by key "), "%s", r.out);
    cr_assert(strstr(r.out, "(keys/ada), a publisher the index's owner verified)\n"), "%s", r.out);
    PLUGBAY(&r, "search", "nothing-like-it", "--index", url(u, "index/"), "--trusted-keys", trusted);
    ok(&r);
    cr_assert_str_eq(r.out, "");
    download(&r, "index");
    ok(&r);
    cr_assert(strstr(r.out, sha256), "the sha256 pack printed, %s, is not in: %s", sha256, r.out);
    size_t a, b;
    char *x = NULL, *y = NULL;
    FILE *f = fopen(in(got, "got.bayplug"), "rb"), *g = fopen(in(published, "www/index/example-hello-1.0.0.bayplug"), "rb");
    cr_assert(f && g);
    x = malloc(1 << 20);
    y = malloc(1 << 20);
    a = fread(x, 1, 1 << 20, f);
    b = fread(y, 1, 1 << 20, g);
    cr_assert(a > 0 && a == b && memcmp(x, y, a) == 0, "the package downloaded is the one published");
    fclose(f);
    fclose(g);
    free(x);
    free(y);
    PLUGBAY(&r, "verify", got, "--trusted-keys", in(u, "verified"));
    ok(&r);
}

Test(fetch, an_unreachable_server_is_refused)
{
    char u[PATH_MAX];
    result r;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/index", free_port());
    PLUGBAY(&r, "search", "x", "--index", u, "--trusted-keys", trusted);
    REFUSED(&r, u, "/index.json: the server cannot be reached", "(BAY_EIO)");
}

Test(fetch, a_server_that_never_answers_times_out)
{
    char u[PATH_MAX], p[16];
    result r;
    int slow = free_port();
    snprintf(p, sizeof p, "%d", slow);
    serve(1, (const char *const[]){PYTHON, "-c", "import socket, sys, time\n"
                                   "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
                                   "held = []\n"
                                   "while True: held.append(s.accept())\n", p, NULL}, slow);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/index", slow);
    long long start = h_now_ms();
    PLUGBAY(&r, "search", "x", "--index", u, "--trusted-keys", trusted, "--timeout", "300");
    REFUSED(&r, "/index.json: timed out after 300 ms", "(BAY_ETIMEDOUT)");
    cr_assert(h_now_ms() - start < 10000, "took %lld ms", h_now_ms() - start);
}

Test(fetch, what_is_not_json_is_refused)
{
    char u[PATH_MAX], path[PATH_MAX];
    result r;
    cr_assert_eq(mkdir(in(path, "www/html"), 0700), 0);
    FILE *f = fopen(in(path, "www/html/index.json"), "w");
    fputs("<html><body>It works!</body></html>\n", f);
    fclose(f);
    f = fopen(in(path, "www/html/index.json.sig"), "w");
    fclose(f);
    PLUGBAY(&r, "search", "x", "--index", url(u, "html"), "--trusted-keys", trusted);
    REFUSED(&r, "/html/index.json: not JSON (line 1 column 1", "check the index's URL", "(BAY_EINVAL)");
}

Test(fetch, an_index_altered_or_signed_by_another_key_is_refused)
{
    char u[PATH_MAX], ada[PATH_MAX];
    result r;
    copy("www/altered");
    char path[PATH_MAX];
    FILE *f = fopen(in(path, "www/altered/index.json"), "r+");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    char *brief = strstr(text, "Greets");
    cr_assert_not_null(brief);
    fseek(f, brief - text, SEEK_SET);
    fputs("Grrets", f);
    fclose(f);
    PLUGBAY(&r, "search", "x", "--index", url(u, "altered"), "--trusted-keys", trusted);
    REFUSED(&r, "/altered/index.json: does not match its signature by key", "altered", "(BAY_EPERM)");
    PLUGBAY(&r, "search", "x", "--index", url(u, "index"), "--trusted-keys", in(ada, "verified"));
    REFUSED(&r, "which is not among the trusted keys in", "(BAY_EPERM)");
}

Test(fetch, a_package_altered_on_the_server_is_refused_and_nothing_is_left)
{
    result r;
    copy("www/swapped");
    alter("www/swapped/example-hello-1.0.0.bayplug", 100, "!");
    download(&r, "swapped");
    REFUSED(&r, "example-hello-1.0.0.bayplug: 10240 bytes with sha256 ", "but the index says 10240 bytes with sha256 ",
            sha256, "(BAY_EPERM)");
    nothing_left();
}

Test(fetch, a_package_larger_than_the_index_says_is_cut_off)
{
    result r;
    copy("www/grown");
    char path[PATH_MAX];
    FILE *f = fopen(in(path, "www/grown/example-hello-1.0.0.bayplug"), "a");
    fputs("more bytes", f);
    fclose(f);
    download(&r, "grown");
    REFUSED(&r, "example-hello-1.0.0.bayplug: larger than 10240 bytes, the most accepted", "(BAY_EPERM)");
    nothing_left();
}

Test(fetch, an_index_too_large_is_refused)
{
    char u[PATH_MAX], path[PATH_MAX];
    result r;
    cr_assert_eq(mkdir(in(path, "www/huge"), 0700), 0);
    FILE *f = fopen(in(path, "www/huge/index.json"), "w");
    cr_assert_eq(ftruncate(fileno(f), (16 << 20) + 1), 0);
    fclose(f);
    PLUGBAY(&r, "search", "x", "--index", url(u, "huge"), "--trusted-keys", trusted);
    REFUSED(&r, "/huge/index.json: larger than 16777216 bytes, the most accepted", "(BAY_EPERM)");
}

Test(fetch, a_package_missing_on_the_server_is_refused)
{
    char path[PATH_MAX];
    result r;
    copy("www/missing");
    cr_assert_eq(unlink(in(path, "www/missing/example-hello-1.0.0.bayplug")), 0);
    download(&r, "missing");
    REFUSED(&r, "/missing/example-hello-1.0.0.bayplug: the server answered HTTP status 404 (not found)",
            "(BAY_ENOENT)");
    nothing_left();
}

Test(fetch, a_version_revoked_in_the_index_is_not_downloaded)
{
    char index[PATH_MAX], owner[PATH_MAX];
    result r;
    PLUGBAY(&r, "index", "revoke", in(index, "www/index"), "example/hello@1.0.0", "--reason", "leaks tokens", "--key",
            in(owner, "keys/owner"));
    ok(&r);
    cr_assert(strstr(r.out, "example/hello@1.0.0 revoked (leaks tokens); "), "%s", r.out);
    download(&r, "index");
    REFUSED(&r, "no version of example/hello in the index fits: 1.0.0 is revoked (leaks tokens)", "(BAY_ENOENT)");
    nothing_left();
}

Test(fetch, redirects_are_followed_to_http_but_not_to_another_scheme)
{
    char u[PATH_MAX], p[16], target[64];
    result r;
    int redirector = free_port();
    snprintf(p, sizeof p, "%d", redirector);
    snprintf(target, sizeof target, "http://127.0.0.1:%d", port);
    serve(1, (const char *const[]){PYTHON, "-c", "import http.server, sys\n"
                                   "class H(http.server.BaseHTTPRequestHandler):\n"
                                   "    def do_GET(self):\n"
                                   "        to = 'file:///etc/passwd' if self.path.startswith('/file/') "
                                   "else sys.argv[2] + self.path[len('/http'):]\n"
                                   "        self.send_response(302)\n"
                                   "        self.send_header('Location', to)\n"
                                   "        self.end_headers()\n"
                                   "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
                                   p, target, NULL}, redirector);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/http/index", redirector);
    PLUGBAY(&r, "search", "hello", "--index", u, "--trusted-keys", trusted);
    ok(&r);
    cr_assert(strstr(r.out, "example/hello 1.0.0: "), "%s", r.out);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/file/index", redirector);
    PLUGBAY(&r, "search", "hello", "--index", u, "--trusted-keys", trusted);
    REFUSED(&r, "/file/index/index.json: only http://, https:// and file:// URLs are fetched, and a redirect only to "
            "http:// or https://", "(BAY_EINVAL)");
}

Test(fetch, info_available_shows_each_version_in_the_index)
{
    char u[PATH_MAX];
    result r;
    PLUGBAY(&r, "info", "example/hello", "--available", "--index", url(u, "index"), "--trusted-keys", trusted);
    ok(&r);
    cr_assert(strstr(r.out, "example/hello 1.0.0 (the newest for this plugbay)\n  name: Hello\n"), "%s", r.out);
    cr_assert(strstr(r.out, sha256), "%s", r.out);
    PLUGBAY(&r, "info", "example/hello", "--available", "--index", url(u, "index"), "--trusted-keys", trusted,
            "--json");
    ok(&r);
    cr_assert(strstr(r.out, "{\"id\":\"example/hello\",\"newest\":\"1.0.0\",\"versions\":[{"), "%s", r.out);
    PLUGBAY(&r, "info", "example/nope", "--available", "--index", url(u, "index"), "--trusted-keys", trusted);
    REFUSED(&r, "the index has no plugin example/nope", "(BAY_ENOENT)");
}

/* publish_needs publishes demo/needs 1.0.0 (its folder DIR/needs) to the served index: example/hello's code,
 * serving needs.greet, depending on example/hello ^1. */
static void publish_needs(void)
{
    char path[PATH_MAX], src[PATH_MAX], pkg[PATH_MAX], owner[PATH_MAX], index[PATH_MAX];
    result r;
    snprintf(src, sizeof src, "%s/example/hello/plugin.so", h.plugins);
    cr_assert_eq(mkdir(in(path, "needs"), 0700), 0);
    r.status = h_run(&h, (const char *const[]){"/bin/cp", src, path, NULL}, NULL, 0, r.err, sizeof r.err);
    ok(&r);
    strcat(path, "/plugin.json");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"id\": \"demo/needs\", \"name\": \"Needs\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": "
          "\"plugin.so\", \"provides\": [{\"name\": \"needs.greet\", \"kind\": \"handle\", \"function\": \"greet\"}], "
          "\"dependencies\": {\"example/hello\": \"^1\"}}",
          f);
    fclose(f);
    PLUGBAY(&r, "pack", in(src, "needs"), "--key", in(path, "keys/ada"), "-o", in(pkg, "needs.bayplug"));
    ok(&r);
    PLUGBAY(&r, "publish", pkg, in(index, "www/index"), "--key", in(owner, "keys/owner"));
    ok(&r);
}

Test(fetch, install_by_id_from_an_index_brings_its_dependencies_first)
{
    char path[PATH_MAX], src[PATH_MAX], pkg[PATH_MAX], owner[PATH_MAX], index[PATH_MAX], u[PATH_MAX];
    result r;
    FILE *f;
    publish_needs();
    in(index, "www/index");
    in(owner, "keys/owner");
    /* plugbayd without example/hello in its plugins folder. */
    r.status = h_run(&h, (const char *const[]){"/bin/rm", "-r", in(path, "plugins/example"), NULL}, NULL, 0, r.err,
                     sizeof r.err);
    ok(&r);
    h.manual = true;
    h_start(&h, NULL);
    PLUGBAY(&r, "install", "demo/nope", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "demo/nope"), "%s", r.err);
    PLUGBAY(&r, "install", "demo/needs", "--index", url(u, "index"), "--broker", h.url);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "install --index needs --trusted-keys KEYDIR"), "%s", r.err);
    PLUGBAY(&r, "install", "demo/needs@^1", "--index", url(u, "index"), "--trusted-keys", trusted, "--grant-all",
            "--verified-only", "--broker", h.url);
    ok(&r);
    cr_assert(strstr(r.out, "example/hello 1.0.0 from ") && strstr(r.out, "(keys/ada), a publisher the index's owner "
                                                                          "verified\nexample/hello: loaded\n"),
              "%s", r.out);
    cr_assert(strstr(r.out, "\ndemo/needs 1.0.0 from ") && strstr(r.out, "verified\ndemo/needs: loaded\n"), "%s", r.out);
    /* A package by a publisher the index's owner did not verify: --verified-only refuses it, before downloading. */
    key("keys/mallory");
    r.status = h_run(&h, (const char *const[]){"/bin/cp", "-r", in(src, "needs"), in(path, "shady"), NULL}, NULL, 0,
                     r.err, sizeof r.err);
    ok(&r);
    in(path, "shady/plugin.json");
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"id\": \"demo/shady\", \"name\": \"Shady\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": "
          "\"plugin.so\", \"provides\": []}",
          f);
    fclose(f);
    PLUGBAY(&r, "pack", in(src, "shady"), "--key", in(path, "keys/mallory"), "-o", in(pkg, "shady.bayplug"));
    ok(&r);
    PLUGBAY(&r, "publish", pkg, index, "--key", owner);
    ok(&r);
    PLUGBAY(&r, "install", "demo/shady", "--index", url(u, "index"), "--trusted-keys", trusted, "--grant-all",
            "--verified-only", "--broker", h.url);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "demo/shady 1.0.0 in ") && strstr(r.err, "not verified by the index's owner: "
                                                                      "--verified-only takes only packages of "
                                                                      "publishers the index's owner verified"),
              "%s", r.err);
    PLUGBAY(&r, "install", pkg, "--verified-only", "--broker", h.url);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--verified-only goes with --index"), "%s", r.err);
    bay_conn *c = h_connect(&h, "test-fetch");
    char out[64];
    cr_assert_eq(h_call_str(c, "needs.greet", "index", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello, index!");
    /* Version 1.1.0 published: outdated lists it, update takes it, and then nothing is outdated. */
    PLUGBAY(&r, "outdated", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert_str_eq(r.out, "ID  INSTALLED  NEWEST\n", "nothing newer yet: %s", r.out);
    in(path, "needs/plugin.json");
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"id\": \"demo/needs\", \"name\": \"Needs\", \"version\": \"1.1.0\", \"language\": \"c\", \"entry\": "
          "\"plugin.so\", \"provides\": [{\"name\": \"needs.greet\", \"kind\": \"handle\", \"function\": \"greet\"}], "
          "\"dependencies\": {\"example/hello\": \"^1\"}, \"config\": {\"greeting\": \"Newer\"}}",
          f);
    fclose(f);
    PLUGBAY(&r, "pack", in(src, "needs"), "--key", in(path, "keys/ada"), "-o", in(pkg, "needs-1.1.bayplug"));
    ok(&r);
    PLUGBAY(&r, "publish", pkg, index, "--key", owner);
    ok(&r);
    PLUGBAY(&r, "outdated", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert(strstr(r.out, "demo/needs  1.0.0      1.1.0\n"), "%s", r.out);
    PLUGBAY(&r, "update", "demo/needs", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert(strstr(r.out, "demo/needs 1.1.0 from ") && strstr(r.out, "\ndemo/needs: loaded\n"), "%s", r.out);
    cr_assert_eq(h_call_str(c, "needs.greet", "index", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Newer, index!");
    PLUGBAY(&r, "outdated", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert_str_eq(r.out, "ID  INSTALLED  NEWEST\n", "%s", r.out);
    /* example/hello 1.5.0 and 2.0.0 published: demo/needs asks ^1 of it, so update takes 1.5.0, not 2.0.0. */
    for (int major = 1; major <= 2; major++) {
        char dir[64], manifest[600];
        snprintf(dir, sizeof dir, "hello-%d", major);
        r.status = h_run(&h, (const char *const[]){"/bin/cp", "-r", in(src, "needs"), in(path, dir), NULL}, NULL, 0,
                         r.err, sizeof r.err);
        ok(&r);
        snprintf(manifest, sizeof manifest,
                 "{\"id\": \"example/hello\", \"name\": \"Hello\", \"version\": \"%s\", \"language\": \"c\", "
                 "\"entry\": \"plugin.so\", \"provides\": [{\"name\": \"greet\", \"kind\": \"handle\"}], "
                 "\"config\": {\"greeting\": \"Hello %d\"}}",
                 major == 1 ? "1.5.0" : "2.0.0", major);
        strcat(path, "/plugin.json");
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(manifest, f);
        fclose(f);
        PLUGBAY(&r, "pack", in(src, dir), "--key", in(path, "keys/ada"), "-o", in(pkg, "hello-next.bayplug"));
        ok(&r);
        PLUGBAY(&r, "publish", pkg, index, "--key", owner);
        ok(&r);
    }
    PLUGBAY(&r, "update", "example/hello@^2", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker",
            h.url);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "example/hello 2.0.0 is outside \"^1\", which demo/needs asks of it"), "%s", r.err);
    PLUGBAY(&r, "update", "example/hello", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert(strstr(r.out, "example/hello 1.5.0 from "), "%s", r.out);
    cr_assert_eq(h_call_str(c, "greet", "index", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello 1, index!");
    /* 2.0.0 is outside what demo/needs asks: nothing is outdated, and update without ID has nothing to do. */
    PLUGBAY(&r, "outdated", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert_str_eq(r.out, "ID  INSTALLED  NEWEST\n", "%s", r.out);
    PLUGBAY(&r, "update", "--index", url(u, "index"), "--trusted-keys", trusted, "--broker", h.url);
    ok(&r);
    cr_assert_str_eq(r.out, "every installed plugin is at the newest version the index has\n");
    bay_close(c);
}

Test(fetch, install_by_url_fetches_the_package_and_installs_it)
{
    char path[PATH_MAX], u[PATH_MAX];
    result r;
    r.status = h_run(&h, (const char *const[]){"/bin/rm", "-r", in(path, "plugins/example"), NULL}, NULL, 0, r.err,
                     sizeof r.err);
    ok(&r);
    h.manual = true;
    h_start(&h, NULL);
    /* plugbayd follows no index: install.index says how to make it. */
    bay_conn *c = h_connect(&h, "test-fetch");
    bay_value *args = bay_map();
    bay_error err;
    bay_map_set(args, "id", bay_str("example/hello"));
    cr_assert_eq(bay_command(c, "install.index", args, 5000, NULL, &err), BAY_ENOENT);
    cr_assert(strstr(err.message, "plugbayd follows no index: start it with --index URL --trusted-keys DIR"), "%s",
              err.message);
    bay_value_free(args);
    bay_close(c);
    PLUGBAY(&r, "install", url(u, "index/nothing.bayplug"), "--grant-all", "--broker", h.url);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "404"), "%s", r.err);
    PLUGBAY(&r, "install", url(u, "index/example-hello-1.0.0.bayplug"), "--grant-all", "--broker", h.url);
    ok(&r);
    cr_assert_str_eq(r.out, "example/hello: loaded\n");
}

/* disabled_for waits until plugin example/hello is disabled with a reason holding arg. */
static bool disabled_for(void *arg)
{
    bay_conn *c = h_connect(&h, "test-fetch-watch");
    char state[32], reason[600];
    h_plugin_state(c, "example/hello", state, sizeof state, reason, sizeof reason);
    bay_close(c);
    return strcmp(state, "disabled") == 0 && strstr(reason, arg);
}

Test(fetch, plugbayd_following_an_index_disables_an_installed_version_it_revokes)
{
    char index[PATH_MAX], owner[PATH_MAX], u[PATH_MAX], gone[64];
    result r;
    snprintf(gone, sizeof gone, "http://127.0.0.1:%d/index", free_port()); /* an index that cannot be reached */
    const char *extra[] = {"--index", url(u, "index"), "--index", gone, "--index-interval-s", "1", "--trusted-keys",
                           trusted, NULL};
    h_start(&h, extra);
    bay_conn *c = h_connect(&h, "test-fetch");
    h_wait_loaded(c, (const char *const[]){"example/hello", NULL});
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "before", 5000, out, sizeof out, NULL), 0);
    PLUGBAY(&r, "index", "revoke", in(index, "www/index"), "example/hello@1.0.0", "--reason", "leaks tokens", "--key",
            in(owner, "keys/owner"));
    ok(&r);
    cr_assert(h_wait_until(disabled_for, "version 1.0.0 is revoked by the index http://127.0.0.1:", H_WAIT_MS),
              "example/hello was not disabled");
    cr_assert(disabled_for("/index: leaks tokens; `plugbay update example/hello --index "), "the reason says why");
    /* status shows the index and when it was read. */
    bay_value *st = NULL;
    bay_error err;
    cr_assert_eq(bay_command(c, "status", NULL, 5000, &st, &err), 0, "%s", err.message);
    const bay_value *idx = bay_array_get(bay_map_get(bay_map_get(st, "broker"), "indexes"), 0);
    cr_assert_str_eq(bay_value_str(bay_map_get(idx, "url"), NULL), u);
    cr_assert(bay_value_type(bay_map_get(idx, "read_ms")) == BAY_INT && bay_map_get(idx, "error") &&
                  bay_value_type(bay_map_get(idx, "error")) == BAY_NIL,
              "index status");
    idx = bay_array_get(bay_map_get(bay_map_get(st, "broker"), "indexes"), 1);
    cr_assert(strstr(bay_value_str(bay_map_get(idx, "error"), NULL), "the server cannot be reached"),
              "the unreachable index's status says so");
    bay_value_free(st);
    bay_close(c);
}

/* index_read waits until plugbayd's status says the first index it follows was read. */
static bool index_read(void *arg)
{
    (void)arg;
    bay_conn *c = h_connect(&h, "test-fetch-status");
    bay_value *st = NULL;
    bool read = bay_command(c, "status", NULL, 5000, &st, NULL) == 0 &&
                bay_value_type(bay_map_get(bay_array_get(bay_map_get(bay_map_get(st, "broker"), "indexes"), 0),
                                           "read_ms")) == BAY_INT;
    bay_value_free(st);
    bay_close(c);
    return read;
}

Test(fetch, plugbayd_verified_only_takes_packages_of_publishers_a_followed_index_verified)
{
    char path[PATH_MAX], src[PATH_MAX], pkg[PATH_MAX], u[PATH_MAX], out[512];
    result r;
    /* The same plugin signed by mallory (whom the index does not list as verified), and unsigned. */
    key("keys/mallory");
    r.status = h_run(&h, (const char *const[]){"/bin/cp", "-r", in(src, "plugins/example/hello"), in(path, "mal"),
                                               NULL}, NULL, 0, r.err, sizeof r.err);
    ok(&r);
    PLUGBAY(&r, "pack", path, "--key", in(src, "keys/mallory"), "-o", in(pkg, "mal.bayplug"));
    ok(&r);
    PLUGBAY(&r, "pack", path, "-o", in(src, "bare.bayplug"));
    ok(&r);
    r.status = h_run(&h, (const char *const[]){"/bin/rm", "-r", in(path, "plugins/example"), NULL}, NULL, 0, r.err,
                     sizeof r.err);
    ok(&r);
    h.manual = true;
    h_start(&h, (const char *const[]){"--index", url(u, "index"), "--verified-only", "--trusted-keys", trusted, NULL});
    cr_assert(h_wait_until(index_read, NULL, H_WAIT_MS), "plugbayd never read its index");
    PLUGBAY(&r, "install", pkg, "--grant-all", "--broker", h.url);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "--verified-only: key ") && strstr(r.err, " is no publisher the owner of an index plugbayd "
                                                                     "follows verified (BAY_EPERM)"),
              "%s", r.err);
    PLUGBAY(&r, "install", src, "--grant-all", "--broker", h.url);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "--verified-only: the package is not signed"), "%s", r.err);
    cr_assert_neq(access(in(path, "plugins/example/hello"), F_OK), 0, "a refused package was left in the plugins folder");
    PLUGBAY(&r, "install", in(path, "hello.bayplug"), "--grant-all", "--broker", h.url);
    ok(&r);
    cr_assert_str_eq(r.out, "example/hello: loaded\n");
    bay_conn *c = h_connect(&h, "test-fetch");
    cr_assert_eq(h_call_str(c, "greet", "verified", 5000, out, sizeof out, NULL), 0);
    bay_close(c);
}

/* index_command runs COMMAND name with args_json as plugbayd's own user (an admin): its code, the answer in *out
 * (NULL: dropped) and the error in err. */
static int index_command(const char *name, const char *args_json, bay_value **out, bay_error *err)
{
    bay_value *args = NULL, *got = NULL;
    char why[200];
    cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0, "%s", why);
    bay_conn *c = h_connect(&h, "test-fetch-index");
    int rc = bay_command(c, name, args, 30000, &got, err);
    bay_close(c);
    bay_value_free(args);
    if (out)
        *out = got;
    else
        bay_value_free(got);
    return rc;
}

/* refused_with asserts that COMMAND name with args_json fails with code and a message holding every word. */
static void refused_with(const char *name, const char *args_json, int code, const char *const *words)
{
    bay_error err;
    int rc = index_command(name, args_json, NULL, &err);
    cr_assert_eq(rc, code, "%s %s: %s (%s)", name, args_json, bay_errname(rc), rc ? err.message : "done");
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(err.message, words[i]), "\"%s\" not in: %s", words[i], err.message);
}

#define REFUSED_WITH(name, args, code, ...) refused_with(name, args, code, (const char *const[]){__VA_ARGS__, NULL})

/* offered returns the entry of id in index.list's answer v, or NULL. */
static const bay_value *offered(const bay_value *v, const char *id)
{
    for (size_t i = 0; i < bay_value_len(v); i++)
        if (strcmp(bay_value_str(bay_map_get(bay_array_get(v, i), "id"), NULL), id) == 0)
            return bay_array_get(v, i);
    return NULL;
}

/* nothing_placed asserts that neither STATE/incoming nor the plugins folder keeps anything of demo/needs. */
static void nothing_placed(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/incoming", h.state);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        cr_assert(e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0), "%s left in %s",
                  e->d_name, path);
    closedir(d);
    snprintf(path, sizeof path, "%s/demo/needs", h.plugins);
    cr_assert_neq(access(path, F_OK), 0, "%s was left", path);
}

Test(fetch, plugbayd_installs_from_the_index_it_follows)
{
    char path[PATH_MAX], u[PATH_MAX], out[64];
    bay_value *v = NULL;
    bay_error err;
    result r;
    publish_needs();
    r.status = h_run(&h, (const char *const[]){"/bin/rm", "-r", in(path, "plugins/example"), NULL}, NULL, 0, r.err,
                     sizeof r.err);
    ok(&r);
    h.manual = true;
    h_start(&h, (const char *const[]){"--index", url(u, "index"), "--trusted-keys", trusted, NULL});
    cr_assert(h_wait_until(index_read, NULL, H_WAIT_MS), "plugbayd never read its index");
    /* index.list: the newest version of each plugin, with its permissions, publisher and whether installed. */
    cr_assert_eq(index_command("index.list", "{}", &v, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(v), 2);
    const bay_value *e = offered(v, "example/hello");
    cr_assert_not_null(e);
    cr_assert_str_eq(bay_value_str(bay_map_get(e, "version"), NULL), "1.0.0");
    cr_assert(bay_value_bool(bay_map_get(e, "verified")), "ada is verified");
    cr_assert(strstr(bay_value_str(bay_map_get(e, "publisher"), NULL), "(keys/ada), a publisher the index's owner "
                                                                        "verified"));
    cr_assert_eq(bay_value_type(bay_map_get(e, "permissions")), BAY_ARRAY);
    cr_assert_eq(bay_value_type(bay_map_get(e, "installed")), BAY_NIL);
    cr_assert_str_eq(bay_value_str(bay_map_get(e, "index"), NULL), u);
    e = offered(v, "demo/needs");
    cr_assert(e && strcmp(bay_value_str(bay_map_get(bay_map_get(e, "dependencies"), "example/hello"), NULL), "^1") == 0);
    bay_value_free(v);
    cr_assert_eq(index_command("index.list", "{\"query\": \"NEEDS\"}", &v, &err), 0, "%s", err.message);
    cr_assert(bay_value_len(v) == 1 && offered(v, "demo/needs"), "the query keeps demo/needs only");
    bay_value_free(v);
    /* Refusals before any download. */
    REFUSED_WITH("install.index", "{}", BAY_EINVAL, "install.index needs {\"id\": PLUGIN-ID}");
    REFUSED_WITH("install.index", "{\"id\": \"demo/nope\", \"grant_all\": true}", BAY_ENOENT, "demo/nope");
    REFUSED_WITH("install.index", "{\"id\": \"example/hello\", \"version\": \"9.9.9\"}", BAY_ENOENT,
                 "has no example/hello version 9.9.9");
    REFUSED_WITH("install.index", "{\"id\": \"demo/needs\", \"grant_all\": true}", BAY_ENOENT,
                 "demo/needs 1.0.0 needs example/hello@^1, not installed: install that first");
    nothing_placed();
    /* example/hello installed from the index, then demo/needs, which needs it. */
    cr_assert_eq(index_command("install.index", "{\"id\": \"example/hello\", \"range\": \"^1\", \"grant_all\": true}",
                               NULL, &err), 0, "%s", err.message);
    bay_conn *c = h_connect(&h, "test-fetch");
    cr_assert_eq(h_call_str(c, "greet", "index", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello, index!");
    cr_assert_eq(index_command("index.list", "{}", &v, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(offered(v, "example/hello"), "installed"), NULL), "1.0.0");
    cr_assert(!bay_value_bool(bay_map_get(offered(v, "example/hello"), "outdated")));
    bay_value_free(v);
    REFUSED_WITH("install.index", "{\"id\": \"example/hello\", \"grant_all\": true}", BAY_EEXIST,
                 "example/hello is already installed (version 1.0.0): update it");
    /* demo/needs' package altered on the server (same size): refused, nothing left. */
    alter("www/index/demo-needs-1.0.0.bayplug", 600, "XXXXXXXX");
    REFUSED_WITH("install.index", "{\"id\": \"demo/needs\", \"grant_all\": true}", BAY_EINVAL,
                 "demo-needs-1.0.0.bayplug: ", " with sha256 ", "but the index says ");
    nothing_placed();
    /* Gone from the server: the download's error. */
    cr_assert_eq(unlink(in(path, "www/index/demo-needs-1.0.0.bayplug")), 0);
    REFUSED_WITH("install.index", "{\"id\": \"demo/needs\", \"grant_all\": true}", BAY_ENOENT, "404");
    nothing_placed();
    cr_assert_eq(h_call_str(c, "greet", "still", 5000, out, sizeof out, NULL), 0, "plugbayd still serves");
    bay_close(c);
}

Test(fetch, plugbayd_installs_from_no_index_before_one_was_read)
{
    char gone[64];
    snprintf(gone, sizeof gone, "http://127.0.0.1:%d/index", free_port()); /* never read */
    h_start(&h, (const char *const[]){"--index", gone, "--trusted-keys", trusted, NULL});
    REFUSED_WITH("index.list", "{}", BAY_EBUSY, "no index plugbayd follows was read yet");
    REFUSED_WITH("install.index", "{\"id\": \"demo/needs\"}", BAY_EBUSY, "no index plugbayd follows was read yet");
}
