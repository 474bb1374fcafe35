/* cli/topframe.h — plugbay top's frame: rates from two status replies, plugins and extension points sorted, as lines of text. */
#ifndef BAY_CLI_TOPFRAME_H
#define BAY_CLI_TOPFRAME_H

#include <stdbool.h>
#include <stddef.h>

#include <plugbay/plugbay.h>

/* What the plugins' table is sorted by, busiest first. */
typedef enum top_sort { TOP_SORT_CALLS, TOP_SORT_ERRORS, TOP_SORT_CPU } top_sort;

/* The most extension points a frame lists, the busiest. */
#define TOP_POINTS_MAX 10

/* A frame: its lines, without newlines. */
typedef struct top_text {
    char **lines;
    bool *title; /* title[i]: line i is a table's column titles */
    size_t n;
} top_text;

/* top_sort_name returns "calls", "errors" or "cpu". */
const char *top_sort_name(top_sort s);

/* top_frame writes to out the frame of the status reply now: the broker's
 * figures; a line saying the sort, the interval (seconds) and, when keys,
 * the keys; the plugins sorted by sort; the busiest extension points. Rates
 * (calls/s, errors/s, CPU %) come from the difference with the reply before
 * (NULL: none, and the rates show "-") taken seconds earlier. Returns 0, or
 * BAY_ENOMEM with err set; top_text_free frees out either way. */
int top_frame(const bay_value *before, const bay_value *now, double seconds, top_sort sort, double interval,
              bool keys, top_text *out, bay_error *err);

/* top_text_free frees t's lines and empties it. */
void top_text_free(top_text *t);

#endif
