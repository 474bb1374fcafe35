/* tests/e2e/test_io_errors.c — a full disk under the state folder: each failed write names its step, file and reason to the caller and in the log; the state stays as it was. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NOSPACE "No space left on device"

static harness h;
static bool mounted;
static char filler[400]; /* STATE/filler: takes the tmpfs's last byte */

/* write_proc writes text to the /proc file path; returns 0 or an errno value. */
static int write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), e = 0;
    if (fd < 0)
        return errno;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        e = errno;
    close(fd);
    return e;
}

/* own_namespace puts this process (and so the broker and tools it starts) in
 * a mount namespace of its own: as root directly, otherwise inside a user
 * namespace where it is root. Its mounts vanish with the processes. Returns 0
 * or why not in why. */
static int own_namespace(char *why, size_t len)
{
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int as_root = uid == 0 && unshare(CLONE_NEWNS) == 0 ? 0 : errno;
    if (uid == 0 && as_root == 0)
        return 0;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        snprintf(why, len, "unshare(CLONE_NEWNS) as root: %s; unshare(CLONE_NEWUSER | CLONE_NEWNS): %s",
                 uid == 0 ? strerror(as_root) : "not root", strerror(errno));
        return -1;
    }
    int e = write_proc("/proc/self/setgroups", "deny");
    if (e == 0 && snprintf(map, sizeof map, "0 %u 1", (unsigned)uid) > 0)
        e = write_proc("/proc/self/uid_map", map);
    if (e == 0 && snprintf(map, sizeof map, "0 %u 1", (unsigned)gid) > 0)
        e = write_proc("/proc/self/gid_map", map);
    if (e)
        snprintf(why, len, "mapping the user namespace: %s", strerror(e));
    return e ? -1 : 0;
}

/* mount_small_tmpfs mounts a 256 KiB tmpfs on dir, seen only by this process
 * and its children; skips the test, saying why, where that cannot be done. */
static void mount_small_tmpfs(const char *dir)
{
    char why[300] = "";
    if (own_namespace(why, sizeof why) != 0)
        cr_skip_test("a full disk needs a tmpfs of its own, and no mount namespace can be had here (%s); run as root "
                     "with CAP_SYS_ADMIN or allow unprivileged user namespaces", why);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) /* nothing mounted here reaches the machine */
        cr_skip_test("cannot make the mounts private in the new namespace: %s", strerror(errno));
    cr_assert_eq(mkdir(dir, 0700), 0, "mkdir %s: %s", dir, strerror(errno));
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0700") != 0)
        cr_skip_test("cannot mount a tmpfs on %s: %s", dir, strerror(errno));
    mounted = true;
}

/* fill takes every free byte of the tmpfs, in pages and then byte by byte. */
static void fill(void)
{
    char page[4096] = {0};
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "%s: %s", filler, strerror(errno));
    while (write(fd, page, sizeof page) > 0)
        ;
    while (write(fd, page, 1) > 0)
        ;
    cr_assert_eq(errno, ENOSPC, "filling %s: %s", filler, strerror(errno));
    close(fd);
}

static void free_space(void)
{
    cr_assert_eq(unlink(filler), 0, "%s: %s", filler, strerror(errno));
}

static void start(void)
{
    const char *ids[] = {"example/hello", "example/audit", NULL};
    h_setup(&h, ids);
    mount_small_tmpfs(h.state);
    snprintf(filler, sizeof filler, "%s/filler", h.state);
    h_start_loaded(&h, NULL, ids);
}

static void stop(void)
{
    h_stop(&h);
    if (mounted)
        umount2(h.state, MNT_DETACH);
    mounted = false;
    h_cleanup(&h);
}

TestSuite(io_errors, .init = start, .fini = stop, .timeout = 120);

typedef struct output {
    int status;
    char out[4096], err[4096];
} output;

/* plugbay runs the CLI with the given words (NULL-terminated), adding --broker for broker commands. */
static void plugbay(output *o, bool broker, const char *const *words)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay"};
    size_t n = 1;
    if (broker) {
        argv[n++] = "--broker";
        argv[n++] = h.url;
    }
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    o->status = h_run(&h, argv, o->out, sizeof o->out, o->err, sizeof o->err);
}

/* read_state returns STATE/state.json (static buffer, one per slot). */
static const char *read_state(int slot)
{
    static char text[2][8192];
    char path[400];
    snprintf(path, sizeof path, "%s/state.json", h.state);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    text[slot][fread(text[slot], 1, sizeof text[slot] - 1, f)] = '\0';
    fclose(f);
    return text[slot];
}

static bool state_file_exists(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", h.state, name);
    return access(path, F_OK) == 0;
}

/* expect_refused runs a broker command on id with the disk full and expects
 * the one line `plugbay: ID: WHAT: cannot write STATE/state.json.tmp: No space
 * left on device (BAY_EIO)` on stderr, and the same in the broker's log. */
static void expect_refused(const char *const *words, const char *id, const char *what)
{
    output o;
    char cause[600], line[800], logged[900];
    snprintf(cause, sizeof cause, "%s: cannot write %s/state.json.tmp: " NOSPACE, what, h.state);
    snprintf(line, sizeof line, "plugbay: %s: %s (BAY_EIO)\n", id, cause);
    snprintf(logged, sizeof logged, "ERROR [%s] %s", id, cause);
    plugbay(&o, true, words);
    cr_expect_eq(o.status, 1, "%s %s: exit %d, stdout: %s", words[0], id, o.status, o.out);
    cr_expect_str_eq(o.err, line);
    cr_expect(h_wait_log(&h, logged), "the broker's log %s lacks: %s", h.log, logged);
}

Test(io_errors, install_on_a_full_disk_names_the_file_and_the_reason_and_changes_nothing)
{
    bay_error err;
    bay_conn *c = h_connect(&h, "admin");
    cr_assert_eq(h_command(c, "uninstall", "example/audit", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/audit", "available", H_WAIT_MS));
    const char *before = read_state(0);
    cr_assert(strstr(before, "example/audit") == NULL, "%s", before);

    fill();
    expect_refused((const char *[]){"install", "example/audit", "--grant-all", NULL}, "example/audit",
                   "not installed");
    cr_expect_str_eq(read_state(1), before, "state.json changed though the install failed");
    cr_expect_not(state_file_exists("state.json.tmp"), "the failed save left state.json.tmp");
    char state[64];
    h_plugin_state(c, "example/audit", state, sizeof state, NULL, 0);
    cr_expect_str_eq(state, "available");

    bay_conn *other = h_connect(&h, "other-host"); /* the broker goes on serving */
    char greeting[64] = "";
    cr_expect_eq(h_call_str(other, "greet", "disk", 5000, greeting, sizeof greeting, &err), 0, "%s", err.message);
    cr_expect_str_eq(greeting, "Hello, disk!");
    bay_close(other);

    free_space();
    output o;
    plugbay(&o, true, (const char *[]){"install", "example/audit", "--grant-all", NULL});
    cr_expect_eq(o.status, 0, "stderr: %s", o.err);
    cr_expect_str_eq(o.out, "example/audit: loaded\n");
    cr_expect(strstr(read_state(1), "\"example/audit\"") != NULL, "%s", read_state(1));
    bay_close(c);
}

Test(io_errors, grant_disable_enable_uninstall_on_a_full_disk_keep_the_saved_state)
{
    bay_error err;
    bay_conn *c = h_connect(&h, "admin");
    const char *before = read_state(0);
    fill();

    expect_refused((const char *[]){"grant", "example/hello", "--grant-all", NULL}, "example/hello",
                   "not granted");
    expect_refused((const char *[]){"disable", "example/hello", NULL}, "example/hello",
                   "not disabled (unloaded, still enabled)");
    cr_expect(h_wait_state(c, "example/hello", "stopped", H_WAIT_MS), "still enabled: stopped, not disabled");
    expect_refused((const char *[]){"enable", "example/hello", NULL}, "example/hello", "not enabled");
    expect_refused((const char *[]){"uninstall", "example/audit", NULL}, "example/audit",
                   "not uninstalled (unloaded, still installed)");
    cr_expect(h_wait_state(c, "example/audit", "stopped", H_WAIT_MS), "still installed: stopped, not available");
    cr_expect_str_eq(read_state(1), before, "state.json changed though every change failed");
    cr_expect_not(state_file_exists("state.json.tmp"), "a failed save left state.json.tmp");

    free_space();
    cr_expect_eq(h_command(c, "uninstall", "example/audit", &err), 0, "%s", err.message);
    cr_expect_eq(h_command(c, "disable", "example/hello", &err), 0, "%s", err.message);
    cr_expect(h_wait_state(c, "example/hello", "disabled", H_WAIT_MS));
    cr_expect_eq(h_command(c, "enable", "example/hello", &err), 0, "%s", err.message);
    cr_expect(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    cr_expect(h_wait_state(c, "example/audit", "available", H_WAIT_MS));
    const char *after = read_state(1);
    cr_expect(strstr(after, "\"example/hello\"") != NULL && strstr(after, "\"example/audit\"") == NULL, "%s", after);
    cr_expect(strstr(after, "\"enabled\": true") != NULL, "%s", after);
    bay_close(c);
}

Test(io_errors, keygen_and_sign_on_a_full_disk_name_the_file_and_the_reason)
{
    output o;
    char key[400], full_key[400], folder[400], manifest[500], want[900];
    snprintf(key, sizeof key, "%s/key", h.dir); /* outside the tmpfs */
    snprintf(full_key, sizeof full_key, "%s/key", h.state);
    snprintf(folder, sizeof folder, "%s/signme", h.state);
    snprintf(manifest, sizeof manifest, "%s/plugin.json", folder);
    plugbay(&o, false, (const char *[]){"keygen", "--out", key, NULL});
    cr_assert_eq(o.status, 0, "keygen: %s", o.err);
    cr_assert_eq(mkdir(folder, 0700), 0);
    FILE *f = fopen(manifest, "w");
    cr_assert_not_null(f);
    fputs("{}\n", f);
    cr_assert_eq(fclose(f), 0);

    fill();
    plugbay(&o, false, (const char *[]){"keygen", "--out", full_key, NULL});
    snprintf(want, sizeof want, "plugbay: cannot write %s: " NOSPACE " (BAY_EIO)\n", full_key);
    cr_expect_eq(o.status, 1);
    cr_expect_str_eq(o.err, want);
    cr_expect_not(state_file_exists("key"), "a key that could not be written stays behind");

    plugbay(&o, false, (const char *[]){"sign", folder, "--key", key, NULL});
    snprintf(want, sizeof want, "plugbay: cannot write %s/plugin.sig.tmp: " NOSPACE " (BAY_EIO)\n", folder);
    cr_expect_eq(o.status, 1);
    cr_expect_str_eq(o.err, want);
    cr_expect_not(state_file_exists("signme/plugin.sig.tmp"));
    cr_expect_not(state_file_exists("signme/plugin.sig"));

    free_space();
    plugbay(&o, false, (const char *[]){"sign", folder, "--key", key, NULL});
    cr_expect_eq(o.status, 0, "sign: %s", o.err);
    cr_expect(state_file_exists("signme/plugin.sig"));
}

/* The broker's own log on the full disk: a suite whose log file lives on the
 * tmpfs. example/audit logs a line each time it greets, on one connection
 * (connecting and closing many times could meet NNG 1.5.2's close defect). */
static char broker_stderr[400];
static bay_conn *logger;

static void start_log_on_tmpfs(void)
{
    const char *ids[] = {"example/audit", NULL};
    h_setup(&h, ids);
    mount_small_tmpfs(h.state);
    snprintf(filler, sizeof filler, "%s/filler", h.state);
    snprintf(h.log, sizeof h.log, "%.280s/plugbayd.log", h.state);
    snprintf(broker_stderr, sizeof broker_stderr, "%s/plugbayd.stderr", h.dir);
    int saved = dup(2), fd = open(broker_stderr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2); /* the broker inherits it */
    h_start(&h, NULL);
    dup2(saved, 2);
    close(saved);
    close(fd);
    logger = h_connect(&h, "logger");
    h_wait_loaded(logger, ids);
}

static void stop_log_on_tmpfs(void)
{
    bay_close(logger);
    stop();
}

TestSuite(log_io_errors, .init = start_log_on_tmpfs, .fini = stop_log_on_tmpfs, .timeout = 120);

static bool file_has(const char *path, const char *needle)
{
    char text[16384] = "";
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    return strstr(text, needle) != NULL;
}

/* churn makes the broker log a few lines: example/audit logs each greeting. */
static void churn(void)
{
    for (int i = 0; i < 3; i++)
        h_call_str(logger, "greet", "churn", 5000, NULL, 0, NULL);
}

/* stderr_says_log_full churns (the log file's last page may still take a few
 * lines) until the broker's stderr says arg. */
static bool stderr_says_log_full(void *arg)
{
    churn();
    return file_has(broker_stderr, arg);
}

Test(log_io_errors, a_log_file_on_a_full_disk_is_said_once_on_stderr_and_the_lost_lines_are_counted)
{
    fill();
    char said[700];
    snprintf(said, sizeof said, "plugbayd: cannot write the log file %s: " NOSPACE "; counting the lines it loses",
             h.log);
    cr_assert(h_wait_until(stderr_says_log_full, said, H_WAIT_MS), "%s lacks: %s", broker_stderr, said);
    bay_error err;
    char greeting[64] = "";
    cr_expect_eq(h_call_str(logger, "greet", "full log", 5000, greeting, sizeof greeting, &err), 0, "%s",
                 err.message);

    free_space();
    churn();
    cr_assert(h_wait_log(&h, "log lines were lost: the log file could not take them"), "%s", h.log);
    char text[16384] = "";
    FILE *f = fopen(broker_stderr, "r");
    cr_assert(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    const char *first = strstr(text, said);
    cr_expect(first && strstr(first + 1, said) == NULL, "stderr should say it once: %s", text);
}
