/* tests/e2e/test_zygote.c — workers forked from their language's zygote (plugbayd --zygotes): adopted by plugbayd,
 * each in namespaces and a sandbox of its own, random numbers of their own, and a zygote killed or refused changes
 * nothing but how the next worker starts. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static harness h;
static bay_conn *c;
static const char *plugins[] = {"example/hello", "test/draw-a", "test/draw-b", NULL, NULL}; /* the test's */

static void stop(void)
{
    h_finish_greeted(&h, &c);
}

TestSuite(zygote, .fini = stop, .timeout = 120);

/* A Python plugin that draws a random number: what a worker's random module holds. */
#define RAND_MANIFEST(name)                                                                                           \
    "{\"name\": \"Draw\", \"version\": \"1.0.0\", \"language\": \"python\", \"entry\": \"main.py\", "                \
    "\"provides\": [{\"name\": \"" name "\", \"kind\": \"handle\", \"function\": \"draw\"}]}"

static void write_file(const char *id, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s/%s", h.plugins, id, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* start starts plugbayd with example/hello, two Python plugins that draw random numbers, also (when not NULL)
 * the built plugin also, and extra options. */
static void start(const char *const *extra, const char *also)
{
    plugins[3] = also;
    h_setup(&h, (const char *[]){"example/hello", also, NULL});
    h_write_manifest(&h, "test/draw-a", RAND_MANIFEST("draw.a"));
    h_write_manifest(&h, "test/draw-b", RAND_MANIFEST("draw.b"));
    for (int i = 0; i < 2; i++)
        write_file(i ? "test/draw-b" : "test/draw-a", "main.py", "import random\n\ndef draw():\n    return random.random()\n");
    h_start_loaded(&h, extra, plugins);
    c = h_connect(&h, "test-zygote");
}

/* cmdline reads process pid's arguments, NULs turned to spaces; "" when it is gone. */
static void cmdline(pid_t pid, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, len - 1, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] ? out[i] : ' ';
    out[n] = '\0';
}

/* parent returns the parent of pid, from /proc/PID/stat (0 when it is gone). */
static pid_t parent(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    char *end = strrchr(text, ')');
    int ppid = 0;
    if (end == NULL || sscanf(end + 1, " %*c %d", &ppid) != 1)
        return 0;
    return ppid;
}

/* zygote returns the pid of plugbayd's child running language's worker with --zygote that serves no plugin, or 0. */
static pid_t zygote(const char *language)
{
    char want[300];
    snprintf(want, sizeof want, "plugbay-worker-%s --zygote", language);
    pid_t workers[4] = {0};
    for (size_t i = 0; plugins[i]; i++)
        workers[i] = h_worker_pid(c, plugins[i]);
    pid_t found = 0;
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        pid_t pid = (pid_t)atoi(e->d_name);
        char cmd[600];
        if (pid <= 0 || parent(pid) != h.broker)
            continue;
        cmdline(pid, cmd, sizeof cmd);
        bool worker = false;
        for (size_t i = 0; i < sizeof workers / sizeof *workers; i++)
            worker |= workers[i] == pid;
        if (!worker && strstr(cmd, want))
            found = pid;
    }
    if (d)
        closedir(d);
    return found;
}

/* forked tells whether id's worker was forked from a zygote: it runs with the zygote's arguments. */
static bool forked(const char *id)
{
    char cmd[600];
    cmdline(h_worker_pid(c, id), cmd, sizeof cmd);
    return strstr(cmd, "--zygote") != NULL;
}

/* reload_forked unloads and loads id until its worker is forked from the zygote (the first load of a
 * language starts its zygote, and starts by exec until it is ready): true once it is. */
static bool reload_forked(const char *id)
{
    for (int i = 0; i < 50 && !forked(id); i++) {
        bay_error err;
        cr_assert_eq(h_command(c, "unload", id, &err), 0, "%s", err.message);
        cr_assert_eq(h_command(c, "load", id, &err), 0, "%s", err.message);
    }
    return forked(id);
}

static void ns(pid_t pid, const char *which, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, which);
    ssize_t n = readlink(path, out, len - 1);
    cr_assert(n > 0, "%s", path);
    out[n] = '\0';
}

static double draw(const char *name)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(h_call_json(c, name, "[]", 5000, &res, &err), 0, "%s", err.message);
    double v = bay_value_float(res);
    bay_value_free(res);
    return v;
}

/* status_field reads the number after "field:" in /proc/PID/status (-1 when none). */
static long status_field(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

Test(zygote, python_workers_fork_adopted_by_plugbayd_each_in_namespaces_and_a_sandbox_of_its_own)
{
    start(NULL, NULL);
    cr_assert(reload_forked("test/draw-a") && reload_forked("test/draw-b"), "no worker was forked from the zygote");
    pid_t a = h_worker_pid(c, "test/draw-a"), b = h_worker_pid(c, "test/draw-b"), z = zygote("python");
    cr_assert(z > 0, "plugbayd runs no python zygote");
    cr_expect_eq(parent(a), h.broker, "plugbayd adopted the worker");
    cr_expect_eq(parent(b), h.broker);
    cr_expect(!forked("example/hello"), "C workers start by exec unless --zygotes names c");
    static const char *const kinds[] = {"pid", "ipc", "user", "mnt"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char na[128], nb[128], nz[128], nbroker[128];
        ns(a, kinds[i], na, sizeof na);
        ns(b, kinds[i], nb, sizeof nb);
        ns(z, kinds[i], nz, sizeof nz);
        ns(h.broker, kinds[i], nbroker, sizeof nbroker);
        cr_expect_str_neq(na, nb, "two forked workers share their %s namespace", kinds[i]);
        cr_expect_str_neq(na, nz, "a forked worker shares its zygote's %s namespace", kinds[i]);
        cr_expect_str_neq(na, nbroker, "a forked worker shares plugbayd's %s namespace", kinds[i]);
    }
    /* It holds no descriptor of its zygote's socket, the only way to ask the zygote for anything. */
    char zsock[128], path[300], link[128];
    snprintf(path, sizeof path, "/proc/%d/fd/0", z);
    ssize_t len = readlink(path, zsock, sizeof zsock - 1);
    cr_assert(len > 0 && strncmp(zsock, "socket:", 7) == 0, "the zygote's stdin is its socket");
    zsock[len] = '\0';
    snprintf(path, sizeof path, "/proc/%d/fd", a);
    DIR *fds = opendir(path);
    cr_assert(fds, "%s", path);
    for (struct dirent *e; (e = readdir(fds));) {
        char fd[600];
        snprintf(fd, sizeof fd, "%s/%s", path, e->d_name);
        ssize_t n = readlink(fd, link, sizeof link - 1);
        link[n > 0 ? n : 0] = '\0';
        cr_expect_str_neq(link, zsock, "the forked worker holds its zygote's socket as descriptor %s", e->d_name);
    }
    closedir(fds);
    /* Its sandbox is its own, as a worker started by exec has it. */
    cr_expect_eq(status_field(a, "Seccomp"), 2, "seccomp filters the forked worker");
    cr_expect_eq(status_field(a, "NoNewPrivs"), 1);
    cr_expect_eq(status_field(z, "Seccomp"), 0, "the zygote itself runs no plugin and has no filter of its own");
    /* Two workers forked from one zygote draw different numbers, and so does one worker loaded again. */
    double first = draw("draw.a");
    cr_expect(first != draw("draw.b"), "two forked workers drew the same random number");
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "test/draw-a", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "test/draw-a", &err), 0, "%s", err.message);
    cr_expect(first != draw("draw.a"), "a worker forked again drew the number its previous one drew");
}

Test(zygote, a_zygote_killed_costs_the_next_load_nothing_but_its_speed)
{
    start(NULL, NULL);
    cr_assert(reload_forked("test/draw-a"), "no worker was forked from the zygote");
    pid_t z = zygote("python");
    cr_assert(z > 0);
    cr_assert_eq(kill(z, SIGKILL), 0);
    draw("draw.a"); /* its worker is a process of its own: it serves on */
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "test/draw-a", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "test/draw-a", &err), 0, "%s", err.message);
    draw("draw.a");
    cr_assert(reload_forked("test/draw-a"), "no zygote took the killed one's place");
    cr_expect(zygote("python") != z);
}

Test(zygote, every_language_forks_with_zygotes_all)
{
    start((const char *[]){"--zygotes", "all", NULL}, NULL);
    cr_assert(reload_forked("example/hello"), "the C worker was not forked with --zygotes all");
    char out[64];
    cr_expect_eq(h_call_str(c, "greet", "forked", 5000, out, sizeof out, NULL), 0);
    cr_expect_str_eq(out, "Hello, forked!");
    cr_expect(zygote("c") > 0);
}

Test(zygote, none_starts_every_worker_by_exec)
{
    start((const char *[]){"--zygotes", "none", NULL}, NULL);
    bay_error err;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(h_command(c, "unload", "test/draw-a", &err), 0, "%s", err.message);
        cr_assert_eq(h_command(c, "load", "test/draw-a", &err), 0, "%s", err.message);
        cr_expect(!forked("test/draw-a"));
    }
    cr_expect_eq(zygote("python"), 0, "plugbayd started a zygote with --zygotes none");
}

/* hostile asks test/hostile's function ext to act on process pid: its answer, "refused: ..." or "ALLOWED ...". */
static void hostile(const char *ext, pid_t pid, char *out, size_t len)
{
    char arg[32];
    bay_error err;
    snprintf(arg, sizeof arg, "%d", (int)pid);
    cr_assert_eq(h_call_str(c, ext, arg, 5000, out, len, &err), 0, "%s: %s", ext, err.message);
}

Test(zygote, a_forked_plugin_neither_sees_nor_signals_its_zygote_or_a_sibling)
{
    start((const char *[]){"--zygotes", "all", NULL}, "test/hostile");
    cr_assert(reload_forked("test/hostile") && reload_forked("example/hello"), "no C worker was forked");
    pid_t z = zygote("c"), sibling = h_worker_pid(c, "example/hello");
    cr_assert(z > 0, "plugbayd runs no C zygote");
    pid_t targets[] = {z, sibling};
    for (size_t i = 0; i < 2; i++) {
        char out[400];
        hostile("hostile.sees", targets[i], out, sizeof out);
        cr_expect(strncmp(out, "refused: ", 9) == 0 && strstr(out, "No such process"), "%s %d: %s",
                  i ? "its sibling" : "its zygote", (int)targets[i], out);
        hostile("hostile.signal", targets[i], out, sizeof out);
        cr_expect(strncmp(out, "refused: ", 9) == 0, "%s %d: %s", i ? "its sibling" : "its zygote", (int)targets[i],
                  out);
        hostile("hostile.set_others", targets[i], out, sizeof out);
        cr_expect(strncmp(out, "refused: ", 9) == 0, "%s %d: %s", i ? "its sibling" : "its zygote", (int)targets[i],
                  out);
    }
    cr_expect_eq(kill(z, 0), 0, "the zygote lives");
    cr_expect_eq(zygote("c"), z);
    cr_expect_eq(h_worker_pid(c, "example/hello"), sibling, "its sibling was not restarted");
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "example/hello", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "example/hello", &err), 0, "%s", err.message);
    cr_expect(forked("example/hello"), "the zygote forks on");
}
