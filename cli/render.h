/* cli/render.h — how the plugbay CLI prints the broker's replies for humans and as JSON. */
#ifndef BAY_CLI_RENDER_H
#define BAY_CLI_RENDER_H

#include <stdio.h>

#include <plugbay/plugbay.h>

/* A reply printer. Each one is tolerant: a missing key prints as "-". */
typedef void (*render_fn)(const bay_value *reply);

/* print_json prints v as compact JSON and a newline on stdout. Returns 0, or
 * a bay_errno code with a message in err (NaN or infinite floats). */
int print_json(const bay_value *v, bay_error *err);

/* render_list prints the reply of "list": one table row per plugin. */
void render_list(const bay_value *reply);

/* render_info prints the reply of "info": one "key: value" line per field. */
void render_info(const bay_value *reply);

/* render_panels prints the reply of "panels" as a table: plugin, panel, title, url ("-" without a console). */
void render_panels(const bay_value *reply);

/* render_outdated prints outdated's rows (id, installed, newest) as a table. */
void render_outdated(const bay_value *reply);

/* render_state prints the reply of a lifecycle command: "ID: state". */
void render_state(const bay_value *reply);

/* render_status prints the reply of "status": the broker, then a table of
 * plugins and a table of extension points. */
void render_status(const bay_value *reply);

/* render_hosts prints the reply of "host list": one table row per host. */
void render_hosts(const bay_value *reply);

/* render_host prints the reply of "host add" ("NAME: uid U, role R, granted G")
 * or of "host remove" ("removed"). */
void render_host(const bay_value *reply);

/* render_rescan prints the reply of "rescan": how many plugins, the ids
 * added, changed, gone and back, then one line per entry refused. */
void render_rescan(const bay_value *reply);

/* render_config prints the reply of "config": one row per setting (key,
 * value, default, type, description), a secret's value as whether it is set. */
void render_config(const bay_value *reply);

/* render_duration writes milliseconds (an int value, else "-") to f as "1d 2h 3m 4s". */
void render_duration(FILE *f, const bay_value *ms);

/* render_lines prints an array of strings, one per line (logs --audit). */
void render_lines(const bay_value *reply);

/* render_log prints a plugin's log lines (logs ID): the strings of the reply's "lines", one per line. */
void render_log(const bay_value *reply);

/* render_stats prints the reply of "stats": a line saying the plugin, the
 * span, the resolution and how many slots a row groups, then one row per
 * group of slots (at most about 60): its start, calls, errors, the highest
 * p50 and p99 of its slots, CPU, the most memory, restarts, refusals. */
void render_stats(const bay_value *reply);

/* render_console prints the console's login link (COMMAND console). */
void render_console(const bay_value *reply);

/* render_metrics prints the reply of "metrics": the URL, the token and the file holding it. */
void render_metrics(const bay_value *reply);

#endif
