/* tests/e2e/harness.c — starts a real plugbayd with chosen plugins and waits on conditions for the end-to-end tests. */
#include "harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    mkdir(buf, 0700);
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    cr_assert(in >= 0 && out >= 0, "copy %s -> %s: %s", from, to, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        cr_assert(write(out, buf, (size_t)n) == n);
    close(in);
    close(out);
}

/* copy_folder copies the files of folder src into dst (made), and its folders' as well, but a plugin.json at the top. */
static void copy_folder(const char *src, const char *dst, bool top)
{
    DIR *d = opendir(src);
    cr_assert_not_null(d, "%s: %s", src, strerror(errno));
    mkdirs(dst);
    char a[1024], b[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || (top && strcmp(e->d_name, "plugin.json") == 0))
            continue;
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        struct stat st;
        cr_assert_eq(stat(a, &st), 0, "%s: %s", a, strerror(errno));
        if (S_ISDIR(st.st_mode))
            copy_folder(a, b, false);
        else
            copy_file(a, b);
    }
    closedir(d);
}

/* copy_plugin copies the built plugin id into DIR/plugins/as, its plugin.json last. */
static void copy_plugin(harness *h, const char *id, const char *as)
{
    const char *roots[] = {BAY_TEST_PLUGIN_DIR, BAY_EXAMPLE_PLUGIN_DIR};
    for (size_t r = 0; r < 2; r++) {
        char src[512], dst[512], a[1024], b[1024];
        struct stat st;
        snprintf(src, sizeof src, "%s/%s", roots[r], id);
        if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        snprintf(dst, sizeof dst, "%s/%s", h->plugins, as);
        copy_folder(src, dst, true);
        snprintf(a, sizeof a, "%s/plugin.json", src); /* last: a plugbayd watching finds a whole plugin */
        snprintf(b, sizeof b, "%s/plugin.json", dst);
        copy_file(a, b);
        return;
    }
    cr_assert_fail("test plugin %s was not built (looked in %s and %s)", id, roots[0], roots[1]);
}

void h_listen_public(harness *h)
{
    char pub[320];
    snprintf(pub, sizeof pub, "%s/plugbay", h->dir);
    cr_assert_eq(chmod(h->dir, 0711), 0);
    cr_assert_eq(mkdir(pub, 0755), 0);
    snprintf(h->url, sizeof h->url, "ipc://%s/plugbayd.sock", pub);
}

void h_setup(harness *h, const char *const *ids)
{
    memset(h, 0, sizeof *h);
    snprintf(h->dir, sizeof h->dir, "/tmp/plugbay-e2e.XXXXXX");
    cr_assert(mkdtemp(h->dir) != NULL);
    snprintf(h->plugins, sizeof h->plugins, "%s/plugins", h->dir);
    snprintf(h->state, sizeof h->state, "%s/state", h->dir);
    snprintf(h->log, sizeof h->log, "%s/plugbayd.log", h->dir);
    snprintf(h->url, sizeof h->url, "ipc://%s/state/plugbayd.sock", h->dir);
    mkdirs(h->plugins);
    for (size_t i = 0; ids && ids[i]; i++)
        copy_plugin(h, ids[i], ids[i]);
}

void h_log_tail(const harness *h)
{
    FILE *f = fopen(h->log, "r");
    if (f == NULL)
        return;
    enum { LINES = 40 };
    static char ring[LINES][1024];
    size_t n = 0;
    while (fgets(ring[n % LINES], sizeof ring[0], f))
        n++;
    fclose(f);
    fprintf(stderr, "---- the last %zu lines of %s\n", n < LINES ? n : LINES, h->log);
    for (size_t i = n < LINES ? 0 : n - LINES; i < n; i++)
        fputs(ring[i % LINES], stderr);
    fprintf(stderr, "----\n");
}

static bool broker_answers(void *arg)
{
    harness *h = arg;
    int status;
    if (waitpid(h->broker, &status, WNOHANG) != 0) {
        h_log_tail(h);
        cr_assert_fail("plugbayd exited early (status 0x%x); its log is %s", status, h->log);
    }
    bay_conn *c;
    if (bay_connect(h->url, "harness", &c, NULL) != 0)
        return false;
    int rc = bay_command(c, "status", NULL, 5000, NULL, NULL);
    bay_close(c);
    return rc == 0;
}

void h_spawn(harness *h, const char *const *extra)
{
    const char *argv[32] = {BAY_BIN_DIR "/plugbayd", "--plugins", h->plugins, "--state", h->state,
                            "--log", h->log, "--heartbeat-ms", "500", "--hang-grace-ms", "1000", "--exit-with-parent",
                            "--start-timeout-ms", "60000"};
    size_t n = 14;
    if (!h->manual)
        argv[n++] = "--autoinstall";
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    cr_assert(posix_spawn(&h->broker, argv[0], NULL, NULL, (char **)argv, environ) == 0);
}

void h_start(harness *h, const char *const *extra)
{
    h_spawn(h, extra);
    cr_assert(h_wait_until(broker_answers, h, H_WAIT_MS), "plugbayd did not answer within %d ms", H_WAIT_MS);
}

void h_start_loaded(harness *h, const char *const *extra, const char *const *ids)
{
    h_start(h, extra);
    bay_conn *c = h_connect(h, "wait");
    h_wait_loaded(c, ids);
    bay_close(c);
}

static bool broker_exited(void *arg)
{
    harness *h = arg;
    int status;
    if (waitpid(h->broker, &status, WNOHANG) != h->broker)
        return false;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        h_log_tail(h);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "plugbayd ended with status 0x%x", status);
    h->broker = 0;
    return true;
}

void h_stop(harness *h)
{
    if (h->broker == 0)
        return;
    kill(h->broker, SIGTERM);
    cr_assert(h_wait_until(broker_exited, h, H_WAIT_MS), "plugbayd did not stop after SIGTERM");
}

void h_kill(harness *h)
{
    if (h->broker == 0)
        return;
    kill(h->broker, SIGKILL);
    waitpid(h->broker, NULL, 0);
    h->broker = 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void h_cleanup(harness *h)
{
    h_stop(h);
    if (h->dir[0] && getenv("BAY_KEEP_TEST_DIRS") == NULL)
        nftw(h->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bay_conn *h_connect(harness *h, const char *name)
{
    bay_conn *c = NULL;
    bay_error err = {0};
    int rc = bay_connect(h->url, name, &c, &err);
    cr_assert_eq(rc, 0, "bay_connect: %s", err.message);
    return c;
}

void h_copy_plugin(harness *h, const char *src, const char *id)
{
    copy_plugin(h, src, id);
}

void h_clone_plugin(harness *h, const char *src, const char *id, const char *manifest)
{
    copy_plugin(h, src, id);
    h_write_manifest(h, id, manifest);
}

void h_write_manifest(harness *h, const char *id, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", h->plugins, id);
    mkdirs(path);
    strcat(path, "/plugin.json");
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

bool h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    long long end = h_now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (h_now_ms() > end)
            return false;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    return true;
}

static bay_value *id_args(const char *id)
{
    bay_value *a = bay_map();
    bay_map_set(a, "id", bay_str(id));
    return a;
}

int h_command(bay_conn *c, const char *command, const char *id, bay_error *err)
{
    bay_value *a = id_args(id);
    int rc = bay_command(c, command, a, 30000, NULL, err);
    bay_value_free(a);
    return rc;
}

int h_install_all(bay_conn *c, const char *id, bay_error *err)
{
    bay_value *a = id_args(id);
    bay_map_set(a, "grant_all", bay_bool(true));
    int rc = bay_command(c, "install", a, 30000, NULL, err);
    bay_value_free(a);
    return rc;
}

static bay_value *info(bay_conn *c, const char *id)
{
    bay_value *a = id_args(id), *out = NULL;
    bay_error err;
    int rc = bay_command(c, "info", a, 10000, &out, &err);
    bay_value_free(a);
    cr_assert_eq(rc, 0, "info %s: %s", id, err.message);
    return out;
}

void h_plugin_state(bay_conn *c, const char *id, char *state, size_t len, char *reason, size_t rlen)
{
    bay_value *v = info(c, id);
    snprintf(state, len, "%s", bay_value_str(bay_map_get(v, "state"), NULL));
    if (reason)
        snprintf(reason, rlen, "%s", bay_value_str(bay_map_get(v, "reason"), NULL));
    bay_value_free(v);
}

int64_t h_plugin_int(bay_conn *c, const char *id, const char *field)
{
    bay_value *v = info(c, id);
    int64_t n = bay_value_int(bay_map_get(v, field));
    bay_value_free(v);
    return n;
}

void h_plugin_str(bay_conn *c, const char *id, const char *field, char *out, size_t len)
{
    bay_value *v = info(c, id);
    snprintf(out, len, "%s", bay_value_str(bay_map_get(v, field), NULL) ? bay_value_str(bay_map_get(v, field), NULL) : "");
    bay_value_free(v);
}

int64_t h_refused(bay_conn *c, const char *id, const char *kind)
{
    bay_value *v = info(c, id);
    int64_t n = kind ? bay_value_int(bay_map_get(bay_map_get(v, "refused"), kind))
                     : bay_value_int(bay_map_get(v, "refused_total"));
    bay_value_free(v);
    return n;
}

/* What h_wait_refused waits for. */
struct refusals {
    bay_conn *c;
    const char *id, *kind;
    int64_t above;
};

static bool refusals_above(void *arg)
{
    struct refusals *r = arg;
    return h_refused(r->c, r->id, r->kind) > r->above;
}

bool h_wait_refused(bay_conn *c, const char *id, const char *kind, int64_t above)
{
    struct refusals r = {c, id, kind, above};
    return h_wait_until(refusals_above, &r, H_WAIT_MS);
}

pid_t h_worker_pid(bay_conn *c, const char *id)
{
    bay_value *v = info(c, id);
    pid_t pid = (pid_t)bay_value_int(bay_map_get(v, "pid"));
    bay_value_free(v);
    return pid;
}

int64_t h_fast_channels(bay_conn *c)
{
    bay_value *s = NULL;
    bay_error err;
    cr_assert_eq(bay_command(c, "status", NULL, 10000, &s, &err), 0, "%s", err.message);
    int64_t n = bay_value_int(bay_map_get(bay_map_get(s, "broker"), "fast_channels"));
    bay_value_free(s);
    return n;
}

long h_main_thread_syscall(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, pid);
    FILE *f = fopen(path, "r");
    long nr = -1;
    if (f) {
        if (fscanf(f, "%ld", &nr) != 1)
            nr = -1;
        fclose(f);
    }
    return nr;
}

bool h_main_thread_sleeps(void *pid)
{
    long nr = h_main_thread_syscall(*(pid_t *)pid);
    return nr == 230 || nr == 35; /* clock_nanosleep, nanosleep */
}

struct state_wait {
    bay_conn *c;
    const char *id, *state;
};

static bool in_state(void *arg)
{
    struct state_wait *w = arg;
    char s[64];
    h_plugin_state(w->c, w->id, s, sizeof s, NULL, 0);
    return strcmp(s, w->state) == 0;
}

bool h_wait_state(bay_conn *c, const char *id, const char *state, int timeout_ms)
{
    struct state_wait w = {c, id, state};
    return h_wait_until(in_state, &w, timeout_ms);
}

void h_wait_loaded(bay_conn *c, const char *const *ids)
{
    for (size_t i = 0; ids && ids[i]; i++)
        cr_assert(h_wait_state(c, ids[i], "loaded", H_WAIT_MS), "%s did not load", ids[i]);
}

void h_finish(harness *h, bay_conn **c)
{
    if (*c)
        bay_close(*c);
    *c = NULL;
    h_stop(h);
    /* "Sanitizer:" as in ASan's and LSan's "ERROR: AddressSanitizer: ...", not plugbayd's own line that
     * memory cgroups are off in AddressSanitizer builds. */
    cr_expect(!h_log_contains(h, "Sanitizer:") && !h_log_contains(h, "runtime error:"),
              "a sanitizer reported a problem in %s", h->log);
    h_cleanup(h);
}

void h_finish_greeted(harness *h, bay_conn **c)
{
    char out[64];
    if (*c)
        cr_expect_eq(h_call_str(*c, "greet", "still here", 5000, out, sizeof out, NULL), 0,
                     "example/hello no longer answers");
    h_finish(h, c);
}

bool h_log_contains(harness *h, const char *needle)
{
    FILE *f = fopen(h->log, "r");
    if (f == NULL)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* slurp reads the file at path into buf (NUL-terminated, cut to fit); NULL buf reads nothing. */
static void slurp(const char *path, char *buf, size_t len)
{
    if (buf == NULL)
        return;
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

int h_run(harness *h, const char *const *argv, char *out, size_t outlen, char *err, size_t errlen)
{
    char out_path[400], err_path[400];
    snprintf(out_path, sizeof out_path, "%s/run.out", h->dir);
    snprintf(err_path, sizeof err_path, "%s/run.err", h->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char **)argv, environ), 0, "cannot start %s", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    waitpid(pid, &status, 0);
    slurp(out_path, out, outlen);
    slurp(err_path, err, errlen);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int h_plugbay(harness *h, const char *const *words, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *argv[32] = {BAY_BIN_DIR "/plugbay", "--broker", h->url};
    size_t n = 3;
    for (size_t i = 0; words[i] && n < 31; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    return h_run(h, argv, out, outlen, err, errlen);
}

void h_free_port(char *addr, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof sin;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
              getsockname(fd, (struct sockaddr *)&sin, &slen) == 0);
    snprintf(addr, len, "127.0.0.1:%d", ntohs(sin.sin_port));
    close(fd);
}

int h_run_suggested(harness *h, const char *message, int nth, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *at = message;
    for (int i = 0; at && i <= nth; i++)
        if ((at = strstr(at, "`plugbay ")) != NULL)
            at += strlen("`plugbay ");
    const char *end = at ? strchr(at, '`') : NULL;
    if (end == NULL)
        return -2;
    char words[512];
    snprintf(words, sizeof words, "%.*s", (int)(end - at), at);
    const char *argv[32] = {BAY_BIN_DIR "/plugbay", "--broker", h->url};
    size_t n = 3;
    char *save = NULL;
    for (char *w = strtok_r(words, " ", &save); w && n < 31; w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    argv[n] = NULL;
    return h_run(h, argv, out, outlen, err, errlen);
}

struct log_wait {
    harness *h;
    const char *needle;
};

static bool log_has(void *arg)
{
    struct log_wait *w = arg;
    return h_log_contains(w->h, w->needle);
}

bool h_wait_log(harness *h, const char *needle)
{
    struct log_wait w = {h, needle};
    return h_wait_until(log_has, &w, H_WAIT_MS);
}

int h_call_json(bay_conn *c, const char *name, const char *args_json, int timeout_ms, bay_value **res,
                bay_error *err)
{
    bay_value *args = NULL;
    cr_assert_eq(bay_value_from_json(args_json, &args, NULL, 0), 0, "bad JSON in the test: %s", args_json);
    bay_call_opts o = {.timeout_ms = timeout_ms};
    *res = NULL;
    int rc = bay_call(c, name, args, &o, res, err);
    bay_value_free(args);
    return rc;
}

int h_call_str(bay_conn *c, const char *name, const char *arg, int timeout_ms, char *out, size_t len,
               bay_error *err)
{
    bay_value *args = bay_array(), *res = NULL;
    if (arg)
        bay_array_push(args, bay_str(arg));
    bay_call_opts o = {.timeout_ms = timeout_ms};
    int rc = bay_call(c, name, args, &o, &res, err);
    bay_value_free(args);
    if (rc == 0 && out)
        snprintf(out, len, "%s", bay_value_type(res) == BAY_STR ? bay_value_str(res, NULL) : "(not a string)");
    bay_value_free(res);
    return rc;
}

void h_edit_file(const char *path, const char *from, const char *to)
{
    char text[8192];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *at = strstr(text, from);
    cr_assert_not_null(at, "%s lacks %s", path, from);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    cr_assert_eq(fclose(f), 0);
}

int h_set_setting(bay_conn *c, const char *id, const char *key, const char *json, bay_error *err)
{
    bay_value *v = NULL, *args = bay_map(), *set = bay_map();
    cr_assert_eq(bay_value_from_json(json, &v, NULL, 0), 0, "%s", json);
    bay_map_set(set, key, v);
    bay_map_set(args, "id", bay_str(id));
    bay_map_set(args, "set", set);
    int rc = bay_command(c, "config", args, 5000, NULL, err);
    bay_value_free(args);
    return rc;
}

bay_stream *h_upload(bay_conn *c, const char *lang, const char *what, int timeout_ms)
{
    char ctx[64];
    snprintf(ctx, sizeof ctx, "conform/%s", lang);
    bay_value *args = bay_array();
    bay_array_push(args, bay_str(what));
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_upload(c, "conform.upload", args, &(bay_call_opts){.timeout_ms = timeout_ms, .context = ctx},
                                 &s, &err), 0, "%s: %s", lang, err.message);
    bay_value_free(args);
    return s;
}
