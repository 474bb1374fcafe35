/* broker/logs.h — the last log lines plugbayd keeps in memory for `plugbay logs`: the audit lines and each plugin's. */
#ifndef BAY_LOGS_H
#define BAY_LOGS_H

#include "broker.h"

/* logs_init starts keeping, from plugbayd's thread, the last audit lines
 * and each plugin's last lines (its output, its LOG frames, and plugbayd's
 * lines about it). Returns 0 or BAY_ENOMEM. */
int logs_init(broker *b);

/* logs_on_line has fn called with each line kept about a plugin (its id),
 * as it is kept; one listener (the console's). */
void logs_on_line(broker *b, void (*fn)(broker *b, const char *plugin, const char *line));

/* logs_free stops keeping them and forgets them (at shutdown). */
void logs_free(broker *b);

/* logs_audit answers COMMAND audit: the last audit lines, oldest first, an
 * array; args {"lines": N} (default: all kept). */
int logs_audit(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

/* logs_plugin answers COMMAND logs {"id": ID, "lines": N, "after": SEQ}: p's
 * last N lines (default: all kept) numbered after SEQ (default 0), oldest
 * first, as {"id", "lines": [strings], "last": the number of p's last line
 * (0: none yet), to ask after next time, "missed": lines after SEQ no longer kept}. */
int logs_plugin(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

#endif
