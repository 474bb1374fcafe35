/* broker/log.h — plugbayd's log: timestamped lines tagged with who they are about. */
#ifndef BAY_LOG_H
#define BAY_LOG_H

#include <plugbay/error.h> /* BAY_LOG_DEBUG .. BAY_LOG_ERROR, the levels LOG frames carry too */

/* bay_log_open sends the log to path (appending), or to stderr when path is NULL. Returns 0 or BAY_EIO. */
int bay_log_open(const char *path);

/* bay_log writes one line: time, level, [who] (omitted when NULL) and the message. */
void bay_log(int level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
