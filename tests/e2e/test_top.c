/* tests/e2e/test_top.c — plugbay top against a real broker: in a pseudo-terminal (keys, resize, quit), in batch, its refusals, a broker that dies. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

static harness h;

/* The calls made before top starts: example/hello has the most calls, test/slow the most errors. */
#define HELLO_CALLS 40
#define SLOW_ERRORS 5

static void start(void)
{
    /* Through plugbayd, which counts each extension point's calls, not over a fast channel. */
    setenv("PLUGBAY_FASTPATH", "0", 1);
    const char *ids[] = {"example/hello", "test/slow", NULL};
    h_setup(&h, ids);
    h_start_loaded(&h, NULL, ids);
    bay_conn *c = h_connect(&h, "app");
    bay_error e;
    char out[64];
    for (int i = 0; i < HELLO_CALLS; i++)
        cr_assert_eq(h_call_str(c, "greet", "top", 0, out, sizeof out, &e), 0, "%s", e.message);
    for (int i = 0; i < SLOW_ERRORS; i++)
        cr_assert_neq(h_call_str(c, "slow.sleep", "not a number", 0, out, sizeof out, &e), 0);
    bay_close(c);
}

static void stop(void)
{
    h_cleanup(&h);
}

TestSuite(top, .init = start, .fini = stop, .timeout = 120);

/* ---- a host calling greet all along, so that the rates are not zero ---- */

static atomic_bool calling;

static void *call_greet(void *arg)
{
    bay_conn *c = arg;
    bay_error e;
    char out[64];
    while (atomic_load(&calling)) {
        h_call_str(c, "greet", "busy", 0, out, sizeof out, &e);
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* a steady load, not a wait */
    }
    return NULL;
}

typedef struct caller {
    pthread_t thread;
    bay_conn *conn;
} caller;

static void caller_start(caller *k)
{
    k->conn = h_connect(&h, "busy");
    atomic_store(&calling, true);
    cr_assert_eq(pthread_create(&k->thread, NULL, call_greet, k->conn), 0);
}

static void caller_stop(caller *k)
{
    atomic_store(&calling, false);
    pthread_join(k->thread, NULL);
    bay_close(k->conn);
}

/* ---- batch ---- */

typedef struct output {
    int status;
    char out[65536], err[4096];
} output;

/* run runs plugbay --broker URL WORDS... (stdout a file: not a terminal). */
static void run(output *o, const char *const *words)
{
    o->status = h_plugbay(&h, words, o->out, sizeof o->out, o->err, sizeof o->err);
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (; (s = strstr(s, needle)) != NULL; s++)
        n++;
    return n;
}

/* row returns the line of frame (up to the next frame) that starts with name and a space, or NULL. */
static const char *row(const char *frame, const char *name)
{
    const char *end = strstr(frame + 1, "\nplugbayd ");
    size_t n = strlen(name);
    for (const char *l = frame; l && (end == NULL || l < end); l = strchr(l, '\n')) {
        l += *l == '\n';
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            return l;
    }
    return NULL;
}

/* column returns the number in the (0-based) nth column of line. */
static double column(const char *line, int nth)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%.*s", (int)strcspn(line, "\n"), line);
    char *save = NULL, *w = strtok_r(copy, " ", &save);
    for (int i = 0; w && i < nth; i++)
        w = strtok_r(NULL, " ", &save);
    return w ? atof(w) : -1;
}

Test(top, batch_prints_n_frames_sorted_by_the_chosen_key)
{
    caller k;
    caller_start(&k);
    output o;
    run(&o, (const char *[]){"top", "--batch", "-n", "2", "--interval", "0.3", NULL});
    caller_stop(&k);
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert_eq(count(o.out, "plugbayd "), 2, "two frames: %s", o.out);
    const char *second = strstr(strstr(o.out, "plugbayd ") + 1, "plugbayd ");
    const char *hello = row(second, "example/hello"), *slow = row(second, "test/slow");
    cr_assert(hello && slow, "both plugins have a row: %s", second);
    cr_assert_lt(hello, slow, "sorted by calls: example/hello first: %s", second);
    cr_assert_gt(column(hello, 2), 0, "example/hello's calls/s is not zero while a host calls it: %s", hello);
    cr_assert_geq(column(hello, 4), HELLO_CALLS, "its calls in all: %s", hello);
    cr_assert_not_null(strstr(o.out, "sorted by calls"), "the sort is said: %s", o.out);
    const char *greet = row(second, "greet");
    cr_assert_not_null(greet, "the busiest extension points: %s", second);
    cr_assert_gt(column(greet, 3), 0, "greet's calls/s: %s", greet);
    cr_assert_geq(column(greet, 4), HELLO_CALLS, "greet's calls in all: %s", greet);
    cr_assert_null(strchr(o.out, '\033'), "no escape sequence in batch output");
}

Test(top, batch_sorts_by_errors)
{
    output o;
    /* Not a terminal: plain frames without --batch. */
    run(&o, (const char *[]){"top", "--sort", "errors", "-n", "1", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert_eq(count(o.out, "plugbayd "), 1, "one frame: %s", o.out);
    cr_assert_not_null(strstr(o.out, "sorted by errors"), "%s", o.out);
    const char *hello = row(o.out, "example/hello"), *slow = row(o.out, "test/slow");
    cr_assert(hello && slow, "%s", o.out);
    cr_assert_lt(slow, hello, "sorted by errors: test/slow first: %s", o.out);
    cr_assert_eq(column(slow, 5), SLOW_ERRORS, "its errors: %s", slow);
    cr_assert_not_null(strstr(o.out, "plugins: 2 loaded, 0 failed, 2 in all"), "%s", o.out);
}

/* refused runs top with words and checks it is a usage error (2) saying what. */
static void refused(const char *const *words, const char *what)
{
    output o;
    run(&o, words);
    cr_assert_eq(o.status, 2, "%s: status %d, stdout %s", what, o.status, o.out);
    cr_assert_not_null(strstr(o.err, what), "stderr says %s: %s", what, o.err);
    cr_assert_eq(o.out[0], '\0', "nothing shown: %s", o.out);
}

Test(top, bad_options_are_refused)
{
    refused((const char *[]){"top", "--sort", "memory", NULL}, "--sort takes calls, errors or cpu, got \"memory\"");
    refused((const char *[]){"top", "--interval", "0", NULL}, "--interval takes a number of seconds");
    refused((const char *[]){"top", "--interval", "-1", NULL}, "--interval takes a number of seconds");
    refused((const char *[]){"top", "--interval", "soon", NULL}, "got \"soon\"");
    refused((const char *[]){"top", "--interval", "nan", NULL}, "got \"nan\"");
    refused((const char *[]){"top", "--interval", "", NULL}, "--interval takes a number of seconds");
    refused((const char *[]){"top", "-n", "0", NULL}, "-n takes a positive number of frames, got \"0\"");
    refused((const char *[]){"top", "-n", "two", NULL}, "-n takes a positive number of frames");
    refused((const char *[]){"top", "-n", NULL}, "option -n needs a value");
    refused((const char *[]){"top", "--sort", NULL}, "option --sort needs a value");
    refused((const char *[]){"top", "extra", NULL}, "unexpected argument \"extra\"");
    refused((const char *[]){"status", "--sort", "calls", NULL}, "only go with top");
    refused((const char *[]){"list", "--batch", NULL}, "only go with top");
    output o;
    run(&o, (const char *[]){"top", "--json", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert_not_null(strstr(o.out, "top shows a screen, not JSON"), "as JSON, as --json asks: %s", o.out);
    run(&o, (const char *[]){"status", NULL});
    cr_assert_eq(o.status, 0, "plugbayd still answers: %s", o.err);
}

/* spawn_top starts plugbay --broker URL top WORDS... with stdout and stderr into files of h's folder. */
static pid_t spawn_top(const char *const *words, char *out_path, char *err_path, size_t len)
{
    snprintf(out_path, len, "%s/top.out", h.dir);
    snprintf(err_path, len, "%s/top.err", h.dir);
    const char *argv[16] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "top"};
    size_t n = 4;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char **)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static bool file_has(const char *path, const char *needle)
{
    char buf[65536] = "";
    FILE *f = fopen(path, "r");
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
        fclose(f);
    }
    return strstr(buf, needle) != NULL;
}

struct file_wait {
    const char *path, *needle;
};

static bool shows(void *arg)
{
    struct file_wait *w = arg;
    return file_has(w->path, w->needle);
}

/* exited waits (H_WAIT_MS at most) for pid's end: its exit status, -1 for a signal, -2 when it still runs. */
static int exited(pid_t pid)
{
    for (long long end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -2;
}

Test(top, ends_with_a_message_when_the_broker_dies)
{
    char out[400], err[400];
    pid_t pid = spawn_top((const char *[]){"--batch", "--interval", "0.2", NULL}, out, err, sizeof out);
    struct file_wait w = {out, "example/hello"};
    cr_assert(h_wait_until(shows, &w, H_WAIT_MS), "a first frame");
    h_kill(&h);
    cr_assert_eq(exited(pid), 1, "top ends with status 1");
    cr_assert(file_has(err, "plugbay: plugbayd stopped answering: "), "it says why");
}

Test(top, cannot_reach_the_broker)
{
    output o;
    h_kill(&h);
    run(&o, (const char *[]){"top", "--batch", NULL});
    cr_assert_eq(o.status, 1, "stdout: %s", o.out);
    cr_assert_not_null(strstr(o.err, "plugbay: "), "%s", o.err);
}

/* ---- in a pseudo-terminal ---- */

/* A plugbay top in a pseudo-terminal: everything it wrote, raw and with escape sequences taken out. */
typedef struct screen {
    int master;
    pid_t pid;
    char raw[1 << 20], text[1 << 20];
    size_t nraw, ntext;
    int esc; /* where the decoding is in an escape sequence: 0 none, 1 after ESC, 2 in CSI, 3 in OSC, 4 charset */
} screen;

/* decode appends byte c to s->text unless it belongs to an escape sequence (CSI, OSC, charsets, two-byte ESC). */
static void decode(screen *s, unsigned char c)
{
    switch (s->esc) {
    case 1:
        s->esc = c == '[' ? 2 : c == ']' ? 3 : (c == '(' || c == ')') ? 4 : 0;
        return;
    case 2:
        s->esc = c >= 0x40 && c <= 0x7e ? 0 : 2;
        return;
    case 3:
        s->esc = c == '\a' ? 0 : c == '\033' ? 1 : 3;
        return;
    case 4:
        s->esc = 0;
        return;
    }
    if (c == '\033')
        s->esc = 1;
    else if (c >= ' ' || c == '\n' || c == '\r')
        s->text[s->ntext < sizeof s->text - 1 ? s->ntext++ : s->ntext] = (char)(c == '\r' ? '\n' : c);
    s->text[s->ntext] = '\0';
}

/* pump reads what top wrote within ms; false once the terminal is closed (top ended). */
static bool pump(screen *s, int ms)
{
    struct pollfd p = {.fd = s->master, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return true;
    char buf[4096];
    ssize_t n = read(s->master, buf, sizeof buf);
    if (n <= 0)
        return n < 0 && errno == EINTR;
    for (ssize_t i = 0; i < n; i++) {
        if (s->nraw < sizeof s->raw)
            s->raw[s->nraw++] = buf[i];
        decode(s, (unsigned char)buf[i]);
    }
    return true;
}

/* see waits (H_WAIT_MS at most) until the text top wrote after offset from holds needle; where it starts, or NULL. */
static const char *see(screen *s, size_t from, const char *needle)
{
    for (long long end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;) {
        const char *at = strstr(s->text + from, needle);
        if (at)
            return at;
        if (!pump(s, 50))
            return strstr(s->text + from, needle);
    }
    return NULL;
}

static void resize(screen *s, int rows, int cols)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    cr_assert_eq(ioctl(s->master, TIOCSWINSZ, &ws), 0);
}

/* screen_start runs plugbay top in a pseudo-terminal of 120 x 40, TERM=xterm. */
static void screen_start(screen *s)
{
    char *args[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "top", "--interval", "0.3", NULL};
    /* The environment without TERM, LINES and COLUMNS, then TERM=xterm: made before the fork, which runs only exec. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "TERM=", 5) && strncmp(environ[i], "LINES=", 6) && strncmp(environ[i], "COLUMNS=", 8))
            env[k++] = environ[i];
    env[k++] = "TERM=xterm";
    struct winsize ws = {.ws_row = 40, .ws_col = 120};
    s->pid = forkpty(&s->master, NULL, NULL, &ws);
    cr_assert_geq(s->pid, 0, "forkpty: %s", strerror(errno));
    if (s->pid == 0) {
        execve(args[0], args, env);
        _exit(127);
    }
    free(env);
}

/* screen_end waits for top's end, reading all it writes: its exit status (-1 a signal, -2 still running). */
static int screen_end(screen *s)
{
    for (long long end = h_now_ms() + H_WAIT_MS; h_now_ms() < end && pump(s, 50);)
        ;
    int status = exited(s->pid);
    close(s->master);
    return status;
}

Test(top, a_terminal_shows_sorts_redraws_and_is_restored)
{
    caller k;
    caller_start(&k);
    screen *s = calloc(1, sizeof *s);
    screen_start(s);
    cr_assert_not_null(see(s, 0, "example/hello"), "a plugin row: %s", s->text);
    cr_assert_not_null(see(s, 0, "test/slow"), "a plugin row: %s", s->text);
    cr_assert_not_null(see(s, 0, "EXTENSION POINT"), "the extension points: %s", s->text);
    cr_assert_not_null(see(s, 0, "greet"), "greet among them: %s", s->text);
    cr_assert_not_null(see(s, 0, "sorted by calls"), "%s", s->text);

    size_t mark = s->ntext;
    cr_assert_eq(write(s->master, "e", 1), 1);
    const char *sorted = see(s, mark, "sorted by errors");
    cr_assert_not_null(sorted, "e sorts by errors: %s", s->text + mark);
    const char *slow = see(s, (size_t)(sorted - s->text), "test/slow");
    const char *hello = see(s, (size_t)(sorted - s->text), "example/hello");
    cr_assert(slow && hello && slow < hello, "test/slow is drawn above example/hello: %s", sorted);

    mark = s->ntext;
    resize(s, 30, 100);
    cr_assert_not_null(see(s, mark, "EXTENSION POINT"), "a resized window is drawn again: %s", s->text + mark);

    mark = s->nraw;
    cr_assert_eq(write(s->master, "q", 1), 1);
    int status = screen_end(s);
    caller_stop(&k);
    cr_assert_eq(status, 0, "q quits with status 0: %s", s->text);
    s->raw[s->nraw < sizeof s->raw ? s->nraw : sizeof s->raw - 1] = '\0';
    cr_assert(memmem(s->raw + mark, s->nraw - mark, "\033[?1049l", 8) != NULL,
              "the terminal's own screen is back (rmcup)");
    cr_assert(memmem(s->raw + mark, s->nraw - mark, "\033[?25h", 6) != NULL, "the cursor is shown again (cnorm)");
    free(s);
}

Test(top, a_terminal_is_restored_when_the_broker_dies)
{
    screen *s = calloc(1, sizeof *s);
    screen_start(s);
    cr_assert_not_null(see(s, 0, "example/hello"), "a plugin row: %s", s->text);
    size_t mark = s->nraw;
    h_kill(&h);
    int status = screen_end(s);
    cr_assert_eq(status, 1, "top ends with status 1: %s", s->text);
    cr_assert(memmem(s->raw + mark, s->nraw - mark, "\033[?1049l", 8) != NULL, "the terminal is restored");
    const char *rmcup = memmem(s->raw + mark, s->nraw - mark, "\033[?1049l", 8);
    cr_assert(memmem(rmcup, (size_t)(s->raw + s->nraw - rmcup), "plugbayd stopped answering", 26) != NULL,
              "the message comes after the screen is gone: %s", s->text);
    free(s);
}

Test(top, ctrl_c_quits_and_restores_the_terminal)
{
    screen *s = calloc(1, sizeof *s);
    screen_start(s);
    cr_assert_not_null(see(s, 0, "example/hello"), "a plugin row: %s", s->text);
    size_t mark = s->nraw;
    cr_assert_eq(write(s->master, "\003", 1), 1); /* the terminal sends SIGINT */
    cr_assert_eq(screen_end(s), 0, "Ctrl-C quits with status 0: %s", s->text);
    cr_assert(memmem(s->raw + mark, s->nraw - mark, "\033[?1049l", 8) != NULL, "the terminal is restored");
    free(s);
}
