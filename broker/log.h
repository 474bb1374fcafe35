/* broker/log.h — plugbayd's log: timestamped lines tagged with who they are about. */
#ifndef BAY_LOG_H
#define BAY_LOG_H

#include <stdint.h>

#include <plugbay/error.h> /* BAY_LOG_DEBUG .. BAY_LOG_ERROR, the levels LOG frames carry too */

/* Lines about one peer allowed per window before the rest are suppressed. */
#define BAY_LOG_BURST 10
#define BAY_LOG_WINDOW_MS 10000

/* A rate limit for the lines about one peer (zero it to start). */
typedef struct bay__log_limit {
    int64_t window_ms;   /* when the current window began */
    unsigned lines;      /* lines written in it */
    unsigned suppressed; /* lines dropped since the last one written */
} bay__log_limit;

/* bay__log_open sends the log to path (appending), or to stderr when path is NULL. Returns 0 or BAY_EIO. */
int bay__log_open(const char *path);

/* bay__log_reopen opens the log file again by its path (after logrotate
 * moved it, SIGHUP): later lines go to the file now at that path, and the
 * old one is closed. Without a log file it does nothing. Returns 0, or
 * BAY_EIO (errno says why) with the log still going to the old file. */
int bay__log_reopen(void);

/* bay__log_fd returns the descriptor the log writes to (for the crash report, broker/crash.c). */
int bay__log_fd(void);

/* bay__log writes one line: time, level, [who] (omitted when NULL) and the
 * message, cut to 2 KiB, control characters in who and the message made '?'. */
void bay__log(int level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* bay__log_limited writes the line as bay__log does while l allows: at most
 * BAY_LOG_BURST lines every BAY_LOG_WINDOW_MS (now_ms is the monotonic clock).
 * The line that reaches the limit says that further ones are suppressed; the
 * next line let through first says how many were. */
void bay__log_limited(bay__log_limit *l, int64_t now_ms, int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* bay__log_tap has fn(who, line, arg) called with every line written about
 * someone (who not NULL), as written, by the thread that calls
 * bay__log_tap (plugbayd's; lines of other threads pass it by). NULL fn:
 * none. One tap in the process. */
void bay__log_tap(void (*fn)(const char *who, const char *line, void *arg), void *arg);

/* bay__log_limit_end says how many lines about who l suppressed, if any (when
 * the peer goes away), and starts l afresh. */
void bay__log_limit_end(bay__log_limit *l, const char *who);

#endif
