/* cli/topframe.c — plugbay top's frame: rates from two status replies, plugins and extension points sorted, as lines of text. */
#include "topframe.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* TITLE starts a line of column titles in the frame's text until top_frame splits it. */
#define TITLE '\001'

/* The widest an id or an extension point's name is shown. */
#define NAME_MAX_WIDTH 40

/* One row of a table: a plugin or an extension point of the newer reply, its rates and what it sorts by. */
typedef struct row {
    const bay_value *v;
    const char *name;
    double calls_s, errors_s, cpu; /* per second, and CPU %; below 0: unknown */
    double key;                    /* the rate it sorts by (below 0: unknown, last) */
    int64_t total;                 /* then the total it sorts by */
} row;

const char *top_sort_name(top_sort s)
{
    return s == TOP_SORT_ERRORS ? "errors" : s == TOP_SORT_CPU ? "cpu" : "calls";
}

static int64_t field(const bay_value *map, const char *key)
{
    return bay_value_int(bay_map_get(map, key));
}

static const char *name_of(const bay_value *map, const char *key)
{
    const char *s = bay_value_str(bay_map_get(map, key), NULL);
    return s ? s : "-";
}

/* find returns the map of list whose key is name, or NULL. */
static const bay_value *find(const bay_value *list, const char *key, const char *name)
{
    for (size_t i = 0; i < bay_value_len(list); i++)
        if (strcmp(name_of(bay_array_get(list, i), key), name) == 0)
            return bay_array_get(list, i);
    return NULL;
}

/* rate returns how much key grew per second from before to now; -1 when unknown (no before, or it shrank). */
static double rate(const bay_value *before, const bay_value *now, const char *key, double seconds)
{
    if (before == NULL || seconds <= 0)
        return -1;
    int64_t d = field(now, key) - field(before, key);
    return d < 0 ? -1 : (double)d / seconds;
}

/* cpu returns the CPU % the worker of now used since before; -1 when unknown (another worker, no CPU time). */
static double cpu(const bay_value *before, const bay_value *now, double seconds)
{
    if (before == NULL || field(before, "pid") != field(now, "pid") || field(now, "pid") == 0 ||
        bay_value_type(bay_map_get(before, "cpu_ms")) != BAY_INT || bay_value_type(bay_map_get(now, "cpu_ms")) != BAY_INT)
        return -1;
    double r = rate(before, now, "cpu_ms", seconds);
    return r < 0 ? -1 : r / 10; /* ms per second to % */
}

static int busiest(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* put_cell writes s in width columns (left-aligned when left), cut to fit, control characters as '?'. */
static void put_cell(FILE *f, const char *s, int width, bool left)
{
    int n = (int)strnlen(s, (size_t)width);
    if (!left)
        fprintf(f, "%*s", width - n, "");
    for (int i = 0; i < n; i++)
        fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], f);
    if (left)
        fprintf(f, "%*s", width - n, "");
}

static const char *fmt_rate(char *buf, size_t len, double r)
{
    if (r < 0)
        return "-";
    snprintf(buf, len, "%.1f", r);
    return buf;
}

/* A unit a number is shown in while below limit: divided by div, with decimals digits, then suffix. */
typedef struct unit {
    double limit, div;
    int decimals;
    const char *suffix;
} unit;

/* Microseconds as "850us", "1.2ms" or "3.40s"; kilobytes as "800K", "12.3M" or "1.2G". */
static const unit micros[] = {{1e3, 1, 0, "us"}, {1e6, 1e3, 1, "ms"}, {INFINITY, 1e6, 2, "s"}};
static const unit kilos[] = {{1024, 1, 0, "K"}, {1048576, 1024, 1, "M"}, {INFINITY, 1048576, 1, "G"}};

/* fmt_scaled writes the number v in the first of units it is below the limit of ("-" when v is not a number). */
static const char *fmt_scaled(char *buf, size_t len, const bay_value *v, const unit *units)
{
    if (bay_value_type(v) != BAY_INT)
        return "-";
    double x = (double)bay_value_int(v);
    while (x >= units->limit)
        units++;
    snprintf(buf, len, "%.*f%s", units->decimals, x / units->div, units->suffix);
    return buf;
}

static const char *fmt_int(char *buf, size_t len, const bay_value *v)
{
    if (bay_value_type(v) != BAY_INT)
        return "-";
    snprintf(buf, len, "%" PRId64, bay_value_int(v));
    return buf;
}

/* name_width returns the width of the widest name of rows (title at least, NAME_MAX_WIDTH at most). */
static int name_width(const row *rows, size_t n, const char *title)
{
    size_t w = strlen(title);
    for (size_t i = 0; i < n; i++)
        w = strlen(rows[i].name) > w ? strlen(rows[i].name) : w;
    return w > NAME_MAX_WIDTH ? NAME_MAX_WIDTH : (int)w;
}

/* plugin_rows fills rows (room for every plugin of now) with now's plugins, their rates and sort keys; sorted. */
static void plugin_rows(const bay_value *before, const bay_value *now, double seconds, top_sort sort, row *rows)
{
    const bay_value *list = bay_map_get(now, "plugins"), *old = before ? bay_map_get(before, "plugins") : NULL;
    size_t n = bay_value_len(list);
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        r->v = bay_array_get(list, i);
        r->name = name_of(r->v, "id");
        const bay_value *was = old ? find(old, "id", r->name) : NULL;
        r->calls_s = rate(was, r->v, "calls", seconds);
        r->errors_s = rate(was, r->v, "errors", seconds);
        r->cpu = cpu(was, r->v, seconds);
        r->key = sort == TOP_SORT_ERRORS ? r->errors_s : sort == TOP_SORT_CPU ? r->cpu : r->calls_s;
        r->total = field(r->v, sort == TOP_SORT_ERRORS ? "errors" : sort == TOP_SORT_CPU ? "cpu_ms" : "calls");
    }
    qsort(rows, n, sizeof *rows, busiest);
}

static void put_plugins(FILE *f, const row *rows, size_t n)
{
    static const char *const titles[] = {"STATE", "CALLS/S", "ERRORS/S", "CALLS", "ERRORS", "P50", "P99", "CPU%",
                                         "MEM", "RESTARTS"};
    static const int widths[] = {-9, 8, 8, 10, 8, 8, 8, 6, 7, 8}; /* below 0: left-aligned */
    int w = name_width(rows, n, "ID");
    fputc(TITLE, f);
    put_cell(f, "ID", w, true);
    for (size_t c = 0; c < sizeof titles / sizeof *titles; c++)
        fputc(' ', f), put_cell(f, titles[c], abs(widths[c]), widths[c] < 0);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        const bay_value *v = rows[i].v;
        char b[10][32];
        const char *cells[] = {
            name_of(v, "state"),
            fmt_rate(b[0], sizeof b[0], rows[i].calls_s),
            fmt_rate(b[1], sizeof b[1], rows[i].errors_s),
            fmt_int(b[2], sizeof b[2], bay_map_get(v, "calls")),
            fmt_int(b[3], sizeof b[3], bay_map_get(v, "errors")),
            fmt_scaled(b[4], sizeof b[4], bay_map_get(v, "p50_us"), micros),
            fmt_scaled(b[5], sizeof b[5], bay_map_get(v, "p99_us"), micros),
            fmt_rate(b[6], sizeof b[6], rows[i].cpu),
            fmt_scaled(b[7], sizeof b[7], bay_map_get(v, "pss_kb"), kilos),
            fmt_int(b[8], sizeof b[8], bay_map_get(v, "restarts")),
        };
        put_cell(f, rows[i].name, w, true);
        for (size_t c = 0; c < sizeof cells / sizeof *cells; c++)
            fputc(' ', f), put_cell(f, cells[c], abs(widths[c]), widths[c] < 0);
        fputc('\n', f);
    }
}

/* put_points writes the TOP_POINTS_MAX busiest extension points of now (rows: room for all of them). */
static void put_points(FILE *f, const bay_value *before, const bay_value *now, double seconds, row *rows)
{
    const bay_value *list = bay_map_get(now, "extension_points");
    const bay_value *old = before ? bay_map_get(before, "extension_points") : NULL;
    size_t n = bay_value_len(list);
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        r->v = bay_array_get(list, i);
        r->name = name_of(r->v, "name");
        r->key = r->calls_s = rate(old ? find(old, "name", r->name) : NULL, r->v, "calls", seconds);
        r->total = field(r->v, "calls");
    }
    qsort(rows, n, sizeof *rows, busiest);
    n = n < TOP_POINTS_MAX ? n : TOP_POINTS_MAX;
    int w = name_width(rows, n, "EXTENSION POINT");
    fputc(TITLE, f);
    put_cell(f, "EXTENSION POINT", w, true);
    fputs(" KIND   PROVIDERS  CALLS/S      CALLS UNSERVED\n", f);
    for (size_t i = 0; i < n; i++) {
        char b[3][32];
        put_cell(f, rows[i].name, w, true);
        fputc(' ', f);
        put_cell(f, name_of(rows[i].v, "kind"), 6, true);
        fprintf(f, " %9zu %8s", bay_value_len(bay_map_get(rows[i].v, "providers")),
                fmt_rate(b[0], sizeof b[0], rows[i].calls_s));
        fprintf(f, " %10s %8s\n", fmt_int(b[1], sizeof b[1], bay_map_get(rows[i].v, "calls")),
                fmt_int(b[2], sizeof b[2], bay_map_get(rows[i].v, "unserved")));
    }
}

/* put_header writes the broker's figures, the plugins in all and, when rated, their rates in all (rows: the plugins). */
static void put_header(FILE *f, const bay_value *now, const row *rows, size_t n, bool rated, top_sort sort,
                       double interval, bool keys)
{
    const bay_value *br = bay_map_get(now, "broker");
    fprintf(f, "plugbayd %s, up ", name_of(br, "version"));
    render_duration(f, bay_map_get(br, "uptime_ms"));
    fprintf(f, "; connections %" PRId64 ", calls in flight %" PRId64 ", fast channels %" PRId64 "\n",
            field(br, "connections"), field(br, "calls_in_flight"), field(br, "fast_channels"));
    size_t loaded = 0, failed = 0;
    double calls = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        loaded += strcmp(name_of(rows[i].v, "state"), "loaded") == 0;
        failed += strcmp(name_of(rows[i].v, "state"), "failed") == 0;
        calls += rows[i].calls_s > 0 ? rows[i].calls_s : 0;
        errors += rows[i].errors_s > 0 ? rows[i].errors_s : 0;
    }
    char b[2][32];
    fprintf(f, "plugins: %zu loaded, %zu failed, %zu in all; calls/s %s, errors/s %s in all\n", loaded, failed, n,
            fmt_rate(b[0], sizeof b[0], rated ? calls : -1), fmt_rate(b[1], sizeof b[1], rated ? errors : -1));
    static const char *const shown[] = {[TOP_SORT_CALLS] = "calls/s", [TOP_SORT_ERRORS] = "errors/s",
                                        [TOP_SORT_CPU] = "CPU%"};
    fprintf(f, "sorted by %s, every %gs%s\n\n", shown[sort], interval,
            keys ? "; keys: c calls, e errors, p CPU, q quit" : "");
}

/* split cuts text into out's lines, a leading TITLE marking a title line. */
static int split(char *text, top_text *out)
{
    size_t n = 0;
    for (char *p = text; *p; p++)
        n += *p == '\n';
    out->lines = calloc(n ? n : 1, sizeof *out->lines);
    out->title = calloc(n ? n : 1, sizeof *out->title);
    if (out->lines == NULL || out->title == NULL)
        return BAY_ENOMEM;
    char *line = text;
    for (char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        out->title[out->n] = line[0] == TITLE;
        if ((out->lines[out->n] = strdup(line + out->title[out->n])) == NULL)
            return BAY_ENOMEM;
        out->n++;
    }
    return 0;
}

int top_frame(const bay_value *before, const bay_value *now, double seconds, top_sort sort, double interval,
              bool keys, top_text *out, bay_error *err)
{
    *out = (top_text){0};
    size_t nplugins = bay_value_len(bay_map_get(now, "plugins"));
    size_t npoints = bay_value_len(bay_map_get(now, "extension_points"));
    row *rows = calloc(nplugins + npoints + 1, sizeof *rows);
    char *text = NULL;
    size_t len = 0;
    FILE *f = rows ? open_memstream(&text, &len) : NULL;
    int rc = BAY_ENOMEM;
    if (f) {
        plugin_rows(before, now, seconds, sort, rows);
        put_header(f, now, rows, nplugins, before != NULL, sort, interval, keys);
        put_plugins(f, rows, nplugins);
        fputc('\n', f);
        put_points(f, before, now, seconds, rows + nplugins);
        rc = fclose(f) == 0 && text ? split(text, out) : BAY_ENOMEM;
    }
    free(text);
    free(rows);
    return rc ? bay_error_set(err, rc, NULL, "out of memory") : 0;
}

void top_text_free(top_text *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->lines[i]);
    free(t->lines);
    free(t->title);
    *t = (top_text){0};
}
