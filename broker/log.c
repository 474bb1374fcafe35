/* broker/log.c — plugbayd's log: timestamped lines tagged with who they are about. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <plugbay/error.h>

static FILE *out;

int bay_log_open(const char *path)
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
    return 0;
}

void bay_log(int level, const char *who, const char *fmt, ...)
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
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(out ? out : stderr, "%s\n", line);
}
