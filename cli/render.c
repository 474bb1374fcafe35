/* cli/render.c — printing the broker's replies: aligned tables, "key: value" lines and JSON. */
#include "render.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


typedef struct column {
    const char *title;
    const char *key; /* the map key a row's cell comes from */
} column;

/* must returns p, or ends the program when memory ran out. */
static void *must(void *p)
{
    if (p == NULL) {
        fputs("plugbay: out of memory (BAY_ENOMEM)\n", stderr);
        exit(1);
    }
    return p;
}

/* put_text writes v for a human: "-" for a missing value, nil or an empty
 * string, array or map; strings as they are; arrays comma-separated; maps and
 * binaries as JSON. */
static void put_text(FILE *f, const bay_value *v)
{
    switch (bay_value_type(v)) {
    case BAY_NIL:
        fputs("-", f);
        return;
    case BAY_BOOL:
        fputs(bay_value_bool(v) ? "true" : "false", f);
        return;
    case BAY_INT:
        fprintf(f, "%" PRId64, bay_value_int(v));
        return;
    case BAY_FLOAT:
        fprintf(f, "%g", bay_value_float(v));
        return;
    case BAY_STR: {
        const char *s = bay_value_str(v, NULL);
        fputs(*s ? s : "-", f);
        return;
    }
    case BAY_ARRAY:
        if (bay_value_len(v) == 0)
            fputs("-", f);
        for (size_t i = 0; i < bay_value_len(v); i++) {
            if (i)
                fputc(',', f);
            put_text(f, bay_array_get(v, i));
        }
        return;
    case BAY_MAP:
        if (bay_value_len(v) == 0) {
            fputs("-", f);
            return;
        }
        /* fall through */
    case BAY_BIN: {
        char *json = NULL;
        fputs(bay_value_to_json(v, &json) == 0 ? json : "?", f);
        free(json);
        return;
    }
    }
}

/* text returns put_text's rendering of v as a new string. */
static char *text(const bay_value *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = must(open_memstream(&buf, &len));
    put_text(f, v);
    fclose(f);
    return must(buf);
}

/* put_entries writes a map as "key: value, key: value". */
static void put_entries(FILE *f, const bay_value *map)
{
    const bay_value *v;
    const char *key;
    for (size_t i = 0; (key = bay_map_entry(map, i, &v)) != NULL; i++) {
        fprintf(f, "%s%s: ", i ? ", " : "", key);
        put_text(f, v);
    }
}

void render_duration(FILE *f, const bay_value *ms)
{
    if (bay_value_type(ms) != BAY_INT) {
        fputs("-", f);
        return;
    }
    int64_t s = bay_value_int(ms) / 1000;
    if (s >= 86400)
        fprintf(f, "%" PRId64 "d ", s / 86400);
    if (s >= 3600)
        fprintf(f, "%" PRId64 "h ", s / 3600 % 24);
    if (s >= 60)
        fprintf(f, "%" PRId64 "m ", s / 60 % 60);
    fprintf(f, "%" PRId64 "s", s % 60);
}

/* print_table prints a header and one aligned row per map in rows (an array). */
static void print_table(const bay_value *rows, const column *cols, size_t ncols)
{
    size_t nrows = (bay_value_type(rows) == BAY_ARRAY ? bay_value_len(rows) : 0) + 1;
    char **cell = must(calloc(nrows * ncols, sizeof *cell));
    size_t width[ncols];
    memset(width, 0, sizeof width);
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            char *s = r == 0 ? must(strdup(cols[c].title))
                             : text(bay_map_get(bay_array_get(rows, r - 1), cols[c].key));
            cell[r * ncols + c] = s;
            if (strlen(s) > width[c])
                width[c] = strlen(s);
        }
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            char *s = cell[r * ncols + c];
            if (c + 1 < ncols)
                printf("%-*s  ", (int)width[c], s);
            else
                printf("%s\n", s);
            free(s);
        }
    free(cell);
}

int print_json(const bay_value *v, bay_error *err)
{
    char *json = NULL;
    int rc = bay_value_to_json(v, &json);
    if (rc)
        return bay_error_set(err, rc, NULL, "cannot print the reply as JSON: %s",
                             rc == BAY_EINVAL ? "it holds a NaN or infinite number" : bay_strerror(rc));
    puts(json);
    free(json);
    return 0;
}

void render_list(const bay_value *reply)
{
    static const column cols[] = {
        {"ID", "id"},       {"NAME", "name"},         {"VERSION", "version"},   {"LANG", "language"},
        {"STATE", "state"}, {"ORDER", "order"},       {"PROVIDES", "provides"},
        {"REASON", "reason"},
    };
    print_table(reply, cols, sizeof cols / sizeof cols[0]);
}

void render_info(const bay_value *reply)
{
    const bay_value *v;
    const char *key;
    for (size_t i = 0; (key = bay_map_entry(reply, i, &v)) != NULL; i++) {
        bool list_of_maps = bay_value_len(v) > 0 && bay_value_type(bay_array_get(v, 0)) == BAY_MAP;
        printf("%s:", key);
        if (!list_of_maps) {
            putchar(' ');
            put_text(stdout, v);
        }
        for (size_t j = 0; list_of_maps && j < bay_value_len(v); j++) {
            fputs("\n  - ", stdout);
            const bay_value *item = bay_array_get(v, j);
            if (bay_value_type(item) == BAY_MAP)
                put_entries(stdout, item);
            else
                put_text(stdout, item);
        }
        putchar('\n');
    }
}

void render_panels(const bay_value *reply)
{
    static const column cols[] = {{"PLUGIN", "plugin"}, {"PANEL", "panel"}, {"TITLE", "title"}, {"URL", "url"}};
    print_table(reply, cols, sizeof cols / sizeof *cols);
}

void render_outdated(const bay_value *reply)
{
    static const column cols[] = {{"ID", "id"}, {"INSTALLED", "installed"}, {"NEWEST", "newest"}};
    print_table(reply, cols, sizeof cols / sizeof *cols);
}

void render_config(const bay_value *reply)
{
    static const column cols[] = {{"KEY", "key"},   {"VALUE", "value"},       {"DEFAULT", "default"},
                                  {"TYPE", "type"}, {"DESCRIPTION", "description"}};
    const bay_value *settings = bay_map_get(reply, "settings");
    bay_value *rows = must(bay_array());
    for (size_t i = 0; i < bay_value_len(settings); i++) {
        bay_value *row = must(bay_value_copy(bay_array_get(settings, i)));
        if (bay_value_bool(bay_map_get(row, "secret"))) {
            bool set = bay_value_bool(bay_map_get(row, "set"));
            bay_map_set(row, "value", bay_str(set ? "(secret, set)" : "(secret, not set)"));
            bay_map_set(row, "default", bay_str("(secret)"));
        }
        bay_array_push(rows, row);
    }
    if (bay_value_len(rows))
        print_table(rows, cols, sizeof cols / sizeof *cols);
    else
        printf("%s declares no settings\n", bay_value_str(bay_map_get(reply, "id"), NULL));
    bay_value_free(rows);
}

void render_state(const bay_value *reply)
{
    put_text(stdout, bay_map_get(reply, "id"));
    fputs(": ", stdout);
    put_text(stdout, bay_map_get(reply, "state"));
    putchar('\n');
}

void render_status(const bay_value *reply)
{
    static const column plugin_cols[] = {
        {"ID", "id"},         {"STATE", "state"},       {"PID", "pid"},       {"RESTARTS", "restarts"},
        {"CALLS", "calls"},   {"ERRORS", "errors"},     {"INFLIGHT", "inflight"}, {"P50US", "p50_us"},
        {"P99US", "p99_us"},  {"CPUMS", "cpu_ms"},      {"PSSKB", "pss_kb"},  {"REFUSED", "refused_total"},
        {"REASON", "reason"},
    };
    static const column point_cols[] = {
        {"EXTENSION POINT", "name"}, {"KIND", "kind"}, {"PROVIDERS", "providers"}, {"CALLS", "calls"},
    };
    static const column broker_fields[] = {
        {"version:", "version"}, {"pid:", "pid"},           {"uptime:", "uptime_ms"},
        {"url:", "url"},         {"plugins dir:", "plugins_dir"}, {"state dir:", "state_dir"},
    };
    const bay_value *broker = bay_map_get(reply, "broker");
    for (size_t i = 0; i < sizeof broker_fields / sizeof broker_fields[0]; i++) {
        const bay_value *v = bay_map_get(broker, broker_fields[i].key);
        printf("%-13s", broker_fields[i].title);
        if (strcmp(broker_fields[i].key, "uptime_ms") == 0)
            render_duration(stdout, v);
        else
            put_text(stdout, v);
        putchar('\n');
    }
    putchar('\n');
    print_table(bay_map_get(reply, "plugins"), plugin_cols, sizeof plugin_cols / sizeof plugin_cols[0]);
    putchar('\n');
    print_table(bay_map_get(reply, "extension_points"), point_cols, sizeof point_cols / sizeof point_cols[0]);
}

void render_hosts(const bay_value *reply)
{
    static const column cols[] = {{"NAME", "name"}, {"UID", "uid"}, {"KEY", "key_id"}, {"ROLE", "role"},
                                   {"GRANTED", "granted"}};
    print_table(reply, cols, sizeof cols / sizeof *cols);
}

void render_host(const bay_value *reply)
{
    if (bay_value_type(reply) != BAY_MAP) {
        puts("removed");
        return;
    }
    const bay_value *key = bay_map_get(reply, "key_id");
    bool keyed = bay_value_type(key) == BAY_STR;
    put_text(stdout, bay_map_get(reply, "name"));
    fputs(keyed ? ": key " : ": uid ", stdout);
    put_text(stdout, keyed ? key : bay_map_get(reply, "uid"));
    fputs(", role ", stdout);
    put_text(stdout, bay_map_get(reply, "role"));
    fputs(", granted ", stdout);
    put_text(stdout, bay_map_get(reply, "granted"));
    putchar('\n');
}

void render_lines(const bay_value *reply)
{
    for (size_t i = 0; i < bay_value_len(reply); i++)
        put_text(stdout, bay_array_get(reply, i)), putchar('\n');
}

void render_log(const bay_value *reply)
{
    render_lines(bay_map_get(reply, "lines"));
}

void render_rescan(const bay_value *reply)
{
    static const char *const lists[] = {"added", "changed", "gone", "back"};
    put_text(stdout, bay_map_get(reply, "plugins"));
    fputs(" plugins", stdout);
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        const bay_value *ids = bay_map_get(reply, lists[i]);
        if (bay_value_len(ids) == 0)
            continue;
        printf("; %s: ", lists[i]);
        put_text(stdout, ids);
    }
    putchar('\n');
    const bay_value *refused = bay_map_get(reply, "refused");
    for (size_t i = 0; i < bay_value_len(refused); i++) {
        const bay_value *r = bay_array_get(refused, i);
        fputs("refused ", stdout);
        put_text(stdout, bay_map_get(r, "path"));
        fputs(": ", stdout);
        put_text(stdout, bay_map_get(r, "reason"));
        putchar('\n');
    }
    int64_t total = bay_value_int(bay_map_get(reply, "refused_total"));
    if (total > (int64_t)bay_value_len(refused))
        printf("and %" PRId64 " more refused\n", total - (int64_t)bay_value_len(refused));
}

#define STATS_ROWS 60

/* stats_row adds up n slots from slots[from] into one row: counts summed,
 * latencies and memory their highest, "time" the first one's start (local). */
static bay_value *stats_row(const bay_value *slots, size_t from, size_t n, bool minutes)
{
    static const char *const sums[] = {"calls", "errors", "cpu_ms", "restarts", "refusals"};
    static const char *const highs[] = {"p50_us", "p99_us", "pss_kb"};
    enum { NSUMS = sizeof sums / sizeof *sums, NHIGHS = sizeof highs / sizeof *highs };
    int64_t sum[NSUMS] = {0}, high[NHIGHS] = {0};
    for (size_t i = from; i < from + n; i++) {
        const bay_value *slot = bay_array_get(slots, i);
        for (size_t k = 0; k < NSUMS; k++)
            sum[k] += bay_value_int(bay_map_get(slot, sums[k]));
        for (size_t k = 0; k < NHIGHS; k++) {
            int64_t x = bay_value_int(bay_map_get(slot, highs[k]));
            high[k] = x > high[k] ? x : high[k];
        }
    }
    bay_value *row = must(bay_map());
    for (size_t k = 0; k < NSUMS; k++)
        bay_map_set(row, sums[k], bay_int(sum[k]));
    for (size_t k = 0; k < NHIGHS; k++)
        bay_map_set(row, highs[k], bay_int(high[k]));
    time_t t = (time_t)bay_value_int(bay_map_get(bay_array_get(slots, from), "t"));
    char when[32];
    struct tm tm;
    strftime(when, sizeof when, minutes ? "%m-%d %H:%M" : "%H:%M:%S", localtime_r(&t, &tm));
    bay_map_set(row, "time", bay_str(when));
    return row;
}

void render_stats(const bay_value *reply)
{
    static const column cols[] = {
        {"TIME", "time"},       {"CALLS", "calls"},    {"ERRORS", "errors"},     {"P50US", "p50_us"},
        {"P99US", "p99_us"},    {"CPUMS", "cpu_ms"},   {"PSSKB", "pss_kb"},      {"RESTARTS", "restarts"},
        {"REFUSED", "refusals"},
    };
    const bay_value *slots = bay_map_get(reply, "slots");
    size_t n = bay_value_len(slots), per = n ? (n + STATS_ROWS - 1) / STATS_ROWS : 1;
    bool minutes = bay_value_int(bay_map_get(reply, "resolution_s")) == 60;
    put_text(stdout, bay_map_get(reply, "id"));
    printf(": the last %" PRId64 " s, %zu %s slots, %zu per row%s; since plugbayd started %" PRId64 " calls, %" PRId64
           " errors",
           bay_value_int(bay_map_get(reply, "since")), n, minutes ? "one-minute" : "one-second", per,
           per > 1 ? " (p50, p99, memory: a row's highest)" : "", bay_value_int(bay_map_get(reply, "calls_total")),
           bay_value_int(bay_map_get(reply, "errors_total")));
    const bay_value *codes = bay_map_get(reply, "errors_by_code");
    if (bay_value_len(codes)) {
        fputs(" (", stdout);
        put_entries(stdout, codes);
        putchar(')');
    }
    putchar('\n');
    bay_value *rows = must(bay_array());
    for (size_t i = 0; i < n; i += per)
        bay_array_push(rows, stats_row(slots, i, i + per <= n ? per : n - i, minutes));
    if (n)
        print_table(rows, cols, sizeof cols / sizeof *cols);
    else
        puts("no history yet: it is kept from a plugin's first load");
    bay_value_free(rows);
}

void render_console(const bay_value *reply)
{
    printf("Open this link within 5 minutes, once, to log in as %s:\n", bay_value_str(bay_map_get(reply, "role"), NULL));
    put_text(stdout, bay_map_get(reply, "url"));
    putchar('\n');
}

void render_metrics(const bay_value *reply)
{
    static const column fields[] = {{"url:", "url"}, {"token:", "token"}, {"token file:", "token_file"}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        printf("%-12s", fields[i].title);
        put_text(stdout, bay_map_get(reply, fields[i].key));
        putchar('\n');
    }
}
