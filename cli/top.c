/* cli/top.c — plugbay top: plugbayd's status polled every interval and shown as top does (ncurses), or as plain frames. */
#include "top.h"

#include <curses.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMMAND_TIMEOUT_MS 5000

/* stopped: SIGINT or SIGTERM came. */
static volatile sig_atomic_t stopped;

static void on_stop(int sig)
{
    (void)sig;
    stopped = 1;
}

/* One run of top: the connection, the last two replies and what the screen shows. */
typedef struct top {
    const top_opts *o;
    top_sort sort;       /* o->sort, until a key changes it */
    bay_conn *conn;
    int timeout_ms;
    bay_value *before, *now; /* the replies before and now (NULL until there) */
    int64_t before_ms, now_ms;
    bool screen;         /* ncurses draws; else plain frames */
    bool quit;           /* q was pressed */
    sigset_t waiting;    /* the signal mask while waiting: SIGINT, SIGTERM and SIGWINCH let through */
} top;

int top_options(const char *sort, const char *interval, const char *frames, bool batch, top_opts *o, bay_error *err)
{
    *o = (top_opts){.sort = TOP_SORT_CALLS, .interval = 1, .batch = batch};
    if (sort) {
        top_sort all[] = {TOP_SORT_CALLS, TOP_SORT_ERRORS, TOP_SORT_CPU};
        size_t i = 0;
        while (i < sizeof all / sizeof *all && strcmp(sort, top_sort_name(all[i])) != 0)
            i++;
        if (i == sizeof all / sizeof *all)
            return bay_error_set(err, BAY_EINVAL, NULL, "--sort takes calls, errors or cpu, got \"%s\"", sort);
        o->sort = all[i];
    }
    char *end;
    if (interval) {
        o->interval = strtod(interval, &end);
        if (*interval == '\0' || *end != '\0' || !isfinite(o->interval) || o->interval < 0.01 || o->interval > 86400)
            return bay_error_set(err, BAY_EINVAL, NULL,
                                 "--interval takes a number of seconds from 0.01 to 86400, like 1 or 0.5, got \"%s\"",
                                 interval);
    }
    if (frames) {
        o->frames = strtol(frames, &end, 10);
        if (*frames == '\0' || *end != '\0' || o->frames <= 0 || o->frames > 1000000000)
            return bay_error_set(err, BAY_EINVAL, NULL, "-n takes a positive number of frames, got \"%s\"", frames);
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ask gets plugbayd's status: the reply before becomes t->before. */
static int ask(top *t, bay_error *err)
{
    bay_value *reply = NULL;
    bay_error e;
    int rc = bay_command(t->conn, "status", NULL, t->timeout_ms, &reply, &e);
    if (rc)
        return bay_error_set(err, rc, NULL, "plugbayd stopped answering: %s", e.message);
    bay_value_free(t->before);
    t->before = t->now;
    t->before_ms = t->now_ms;
    t->now = reply;
    t->now_ms = now_ms();
    return 0;
}

/* frame makes the text of the last reply (rates against the one before). */
static int frame(top *t, top_text *text, bay_error *err)
{
    return top_frame(t->before, t->now, (double)(t->now_ms - t->before_ms) / 1000, t->sort, t->o->interval,
                     t->screen, text, err);
}

/* wait_until waits until deadline (ms), a signal or, on the screen, a key. */
static void wait_until(top *t, int64_t deadline)
{
    int64_t left = deadline - now_ms();
    struct timespec ts = {left > 0 ? left / 1000 : 0, left > 0 ? left % 1000 * 1000000 : 0};
    struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
    ppoll(t->screen ? &in : NULL, t->screen, &ts, &t->waiting);
}

/* next waits for the next poll (or q, or a signal); on the screen keys act meanwhile (keys: handles them). */
static int next(top *t, int (*keys)(top *, bay_error *), bay_error *err)
{
    int64_t deadline = t->now_ms + (int64_t)(t->o->interval * 1000);
    int rc = 0;
    while (rc == 0 && !stopped && !t->quit && now_ms() < deadline) {
        wait_until(t, deadline);
        if (keys)
            rc = keys(t, err);
    }
    return rc;
}

static int run_batch(top *t, bay_error *err)
{
    int rc;
    for (long shown = 0; !stopped;) {
        top_text text;
        if ((rc = ask(t, err)) != 0 || (rc = frame(t, &text, err)) != 0)
            return rc;
        for (size_t i = 0; i < text.n; i++)
            puts(text.lines[i]);
        putchar('\n');
        top_text_free(&text);
        fflush(stdout);
        if (++shown == t->o->frames || (rc = next(t, NULL, err)) != 0)
            return rc;
    }
    return 0;
}

/* draw shows the last reply on the screen: everything again when full (a resize, another sort). */
static int draw(top *t, bool full, bay_error *err)
{
    top_text text;
    int rc = frame(t, &text, err);
    if (rc == 0) {
        erase();
        for (size_t i = 0; i < text.n && (int)i < LINES; i++) {
            mvaddnstr((int)i, 0, text.lines[i], COLS);
            if (text.title[i])
                mvchgat((int)i, 0, -1, A_REVERSE, 0, NULL); /* the whole width, as top's titles */
        }
        if (full)
            clearok(curscr, TRUE);
        refresh();
    }
    top_text_free(&text);
    return rc;
}

/* keys acts on the keys typed: q quits, c, e and p sort, a resize draws again. */
static int keys(top *t, bay_error *err)
{
    int rc = 0;
    for (int ch; rc == 0 && !t->quit && (ch = getch()) != ERR;) {
        top_sort was = t->sort;
        if (ch == 'q' || ch == 'Q')
            t->quit = true;
        else if (ch == 'c' || ch == 'e' || ch == 'p')
            t->sort = ch == 'c' ? TOP_SORT_CALLS : ch == 'e' ? TOP_SORT_ERRORS : TOP_SORT_CPU;
        if (ch == KEY_RESIZE || t->sort != was)
            rc = draw(t, true, err);
    }
    return rc;
}

static int run_screen(top *t, bay_error *err)
{
    SCREEN *s = newterm(NULL, stdout, stdin);
    if (s == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "cannot drive this terminal (TERM=%s): try --batch",
                             getenv("TERM") ? getenv("TERM") : "");
    cbreak();
    noecho();
    nodelay(stdscr, TRUE);
    keypad(stdscr, TRUE);
    curs_set(0);
    int rc = 0;
    for (long shown = 0; rc == 0 && !stopped && !t->quit;) {
        if ((rc = ask(t, err)) != 0 || (rc = draw(t, false, err)) != 0 || ++shown == t->o->frames)
            break;
        rc = next(t, keys, err);
    }
    endwin();
    delscreen(s);
    return rc;
}

int cli_top(const char *url, int timeout_ms, const top_opts *o, bay_error *err)
{
    /* Blocked before libplugbay starts its threads, which inherit it: the signals wake the wait only. */
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGWINCH);
    top t = {.o = o, .sort = o->sort, .timeout_ms = timeout_ms ? timeout_ms : COMMAND_TIMEOUT_MS,
             .screen = !o->batch && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)};
    sigprocmask(SIG_BLOCK, &block, &t.waiting);
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setlocale(LC_CTYPE, "");
    int rc = bay_connect(url, "plugbay-top", &t.conn, err);
    if (rc == 0) {
        rc = t.screen ? run_screen(&t, err) : run_batch(&t, err);
        bay_close(t.conn);
    }
    bay_value_free(t.before);
    bay_value_free(t.now);
    return rc;
}
