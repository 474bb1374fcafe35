/* broker/metrics.h — once a second: each plugin's counters sampled into its history, and the /metrics text; the stats and metrics commands. */
#ifndef BAY_METRICS_H
#define BAY_METRICS_H

#include "broker.h"

/* metrics_init starts the sampling and, with --metrics, serves /metrics
 * (metrics_http.h). Call from the loop's thread once signals are blocked.
 * Returns 0, or the code with err (plugbayd does not start then). */
int metrics_init(broker *b, bay_error *err);

/* metrics_tick samples every plugin (reading each worker's /proc once) into
 * its history when a new second began, and renders the text /metrics serves;
 * returns when it is due next. */
int64_t metrics_tick(broker *b, int64_t now);

/* metrics_plugin_free frees what the sampling keeps of p (its history). */
void metrics_plugin_free(plugin *p);

/* metrics_free stops serving /metrics and frees the sampling's state (at exit). */
void metrics_free(broker *b);

/* metrics_stats answers COMMAND stats {"id": ID, "since": SECONDS} (1 to
 * 86400, default 600): {"id", "resolution_s": 1 (since <= 3600) or 60,
 * "slots": [{"t": unix time of its start, "calls", "errors", "p50_us",
 * "p99_us", "cpu_ms", "pss_kb", "restarts", "refusals", "sampled"}, ...]
 * oldest first, "errors_by_code": {NAME: count} since plugbayd started,
 * "calls_total", "errors_total", "history_bytes"}. */
int metrics_stats(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

/* metrics_where answers COMMAND metrics: {"url", "token", "token_file"} of
 * /metrics, or BAY_ENOENT when plugbayd runs without --metrics. */
int metrics_where(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

#endif
