/* broker/log.c — plugbayd's log: timestamped lines tagged with who they are about. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <plugbay/error.h>

static FILE *out;
static const char *out_path; /* NULL for stderr */
static unsigned long lost; /* lines the log file did not take since the last one it did */
static struct {
    void (*fn)(const char *who, const char *line, void *arg);
    void *arg;
    pthread_t thread; /* the only thread whose lines it sees */
} tap; /* bay__log_tap's */

int bay__log_open(const char *path)
{
    if (path == NULL) {
        out = stderr;
        return 0;
    }
    FILE *f = fopen(path, "ae");
    if (f == NULL)
        return BAY_EIO;
    setvbuf(f, NULL, _IOLBF, 0);
    out = f;
    out_path = path;
    return 0;
}

int bay__log_reopen(void)
{
    if (out_path == NULL)
        return 0;
    FILE *f = fopen(out_path, "ae");
    if (f == NULL)
        return BAY_EIO;
    setvbuf(f, NULL, _IOLBF, 0);
    fclose(out);
    out = f;
    return 0;
}

int bay__log_fd(void)
{
    return fileno(out ? out : stderr);
}

/* emit writes one finished line. A line the log file does not take (a full
 * disk) is counted, and said once on stderr; the next line it takes first
 * says how many were lost. */
static void emit(const char *line, const char *note)
{
    FILE *to = out ? out : stderr;
    if (lost && to != stderr && fprintf(to, "%.24s WARN  %lu log lines were lost: the log file could not take them\n",
                                        line, lost) > 0)
        lost = 0;
    if (lost == 0 && fprintf(to, "%s%s\n", line, note ? note : "") > 0)
        return;
    if (to != stderr && lost++ == 0)
        fprintf(stderr, "plugbayd: cannot write the log file %s: %s; counting the lines it loses\n", out_path,
                strerror(errno));
}

/* vlog writes one line: time, level, [who] and the message, then note when
 * not NULL. Control characters in who and the message (names and words
 * that peers and plugins chose) become '?', so that no line break or
 * terminal escape in them can start a line posing as another. */
static void vlog(int level, const char *who, const char *note, const char *fmt, va_list ap)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s%s%s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     names[level & 3], who ? "[" : "", who ? who : "", who ? "] " : "");
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    for (char *c = line; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            *c = '?';
    emit(line, note);
    if (tap.fn && who && pthread_equal(pthread_self(), tap.thread))
        tap.fn(who, line, tap.arg);
}

void bay__log_tap(void (*fn)(const char *who, const char *line, void *arg), void *arg)
{
    tap.fn = fn;
    tap.arg = arg;
    tap.thread = pthread_self();
}

void bay__log(int level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, who, NULL, fmt, ap);
    va_end(ap);
}

void bay__log_limit_end(bay__log_limit *l, const char *who)
{
    if (l->suppressed)
        bay__log(BAY_LOG_WARN, who, "%u more lines about this peer were suppressed", l->suppressed);
    *l = (bay__log_limit){0};
}

void bay__log_limited(bay__log_limit *l, int64_t now_ms, int level, const char *who, const char *fmt, ...)
{
    if (l->lines == 0 || now_ms - l->window_ms >= BAY_LOG_WINDOW_MS) {
        unsigned suppressed = l->suppressed;
        *l = (bay__log_limit){.window_ms = now_ms};
        if (suppressed)
            bay__log(BAY_LOG_WARN, who, "%u more lines about this peer were suppressed", suppressed);
    }
    if (l->lines >= BAY_LOG_BURST) {
        l->suppressed++;
        return;
    }
    l->lines++;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, who, l->lines == BAY_LOG_BURST ? " (further lines about this peer are suppressed for a while)" : NULL,
         fmt, ap);
    va_end(ap);
}
