/* cli/top.h — plugbay top: plugbayd's status polled every interval and shown as top does (ncurses), or as plain frames. */
#ifndef BAY_CLI_TOP_H
#define BAY_CLI_TOP_H

#include <stdbool.h>
#include <stddef.h>

#include <plugbay/plugbay.h>

#include "topframe.h"

/* What the command line asked of top. */
typedef struct top_opts {
    top_sort sort;   /* --sort, TOP_SORT_CALLS by default */
    double interval; /* --interval, in seconds (1 by default) */
    long frames;     /* -n: stop after this many frames; 0: until quit */
    bool batch;      /* --batch: plain frames, no curses */
} top_opts;

/* top_options reads top's --sort, --interval and -n (each NULL when not
 * given) and --batch into o. Returns 0, or BAY_EINVAL with err saying which
 * value is wrong and what it takes. */
int top_options(const char *sort, const char *interval, const char *frames, bool batch, top_opts *o, bay_error *err);

/* cli_top connects to the broker at url (NULL: libplugbay's default) and
 * shows its status every o->interval seconds, each command waiting
 * timeout_ms (0: 5 s): on the terminal with ncurses (keys c, e and p sort, q
 * quits, a resized window is drawn again) unless o->batch or stdin or stdout
 * is not a terminal, then as plain frames on stdout. Ends after o->frames
 * frames, on q, SIGINT or SIGTERM (0), or when plugbayd cannot be reached or
 * stops answering (its code, with err; the terminal restored first). */
int cli_top(const char *url, int timeout_ms, const top_opts *o, bay_error *err);

#endif
