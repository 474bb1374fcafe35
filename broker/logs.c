/* broker/logs.c — the last log lines plugbayd keeps in memory for `plugbay logs`: the audit lines and each plugin's. */
#include "logs.h"
#include "recent.h"

#include <stdlib.h>
#include <string.h>

#define AUDIT_LINES 1000
#define AUDIT_BYTES (2u << 20)  /* 1,000 lines of up to 2 KiB */
#define PLUGIN_LINES 1000
#define PLUGIN_BYTES (256u << 10)

/* One plugin's lines, kept under its id: they outlive an unload. */
typedef struct plugin_lines {
    char *id;
    bay__recent *lines;
} plugin_lines;

struct logs {
    bay__recent *audit;
    plugin_lines *plugins;
    size_t n;
    void (*on_line)(broker *b, const char *plugin, const char *line); /* logs_on_line's listener, or NULL */
};

/* lines_of returns the lines kept for plugin id, or NULL when none are. */
static bay__recent *lines_of(const struct logs *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->plugins[i].id, id) == 0)
            return l->plugins[i].lines;
    return NULL;
}

/* keep is the log's tap: an audit line goes to the audit lines, a line
 * about a plugin plugbayd knows to that plugin's (kept from its first line
 * on). Out of memory, the line is only in the log. */
static void keep(const char *who, const char *line, void *arg)
{
    broker *b = arg;
    struct logs *l = b->logs;
    bay__recent *r = strcmp(who, "audit") == 0 ? l->audit : lines_of(l, who);
    if (r == NULL && broker_plugin(b, who) != NULL) {
        plugin_lines *grown = realloc(l->plugins, (l->n + 1) * sizeof *grown);
        if (grown == NULL)
            return;
        l->plugins = grown;
        if ((r = bay__recent_new(PLUGIN_LINES, PLUGIN_BYTES)) == NULL || (grown[l->n].id = strdup(who)) == NULL) {
            bay__recent_free(r);
            return;
        }
        grown[l->n++].lines = r;
    }
    if (r)
        bay__recent_add(r, line);
    if (r && r != l->audit && l->on_line)
        l->on_line(b, who, line);
}

void logs_on_line(broker *b, void (*fn)(broker *b, const char *plugin, const char *line))
{
    b->logs->on_line = fn;
}

int logs_init(broker *b)
{
    if ((b->logs = calloc(1, sizeof *b->logs)) == NULL ||
        (b->logs->audit = bay__recent_new(AUDIT_LINES, AUDIT_BYTES)) == NULL) {
        free(b->logs);
        b->logs = NULL;
        return BAY_ENOMEM;
    }
    bay__log_tap(keep, b);
    return 0;
}

void logs_free(broker *b)
{
    bay__log_tap(NULL, NULL);
    if (b->logs == NULL)
        return;
    for (size_t i = 0; i < b->logs->n; i++) {
        free(b->logs->plugins[i].id);
        bay__recent_free(b->logs->plugins[i].lines);
    }
    free(b->logs->plugins);
    bay__recent_free(b->logs->audit);
    free(b->logs);
    b->logs = NULL;
}

/* wanted reads args' whole number key (absent: fallback), which must be at least least. */
static int wanted(const bay_value *args, const char *key, int64_t least, int64_t fallback, int64_t *out,
                  bay_error *err)
{
    const bay_value *v = bay_map_get(args, key);
    *out = v ? bay_value_int(v) : fallback;
    if (v && (bay_value_type(v) != BAY_INT || *out < least))
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%s\" must be a whole number from %lld up", key,
                             (long long)least);
    return 0;
}

/* recent_value returns the last want lines of r (NULL: none kept) numbered after after, oldest first, as an array. */
static bay_value *recent_value(const bay__recent *r, int64_t want, int64_t after)
{
    bay_value *a = bay_array();
    size_t n = r ? bay__recent_count(r) : 0, first = 0;
    uint64_t seq;
    while (first < n && bay__recent_at(r, first, &seq) && seq <= (uint64_t)after)
        first++;
    if (n - first > (uint64_t)want)
        first = n - (size_t)want;
    for (size_t i = first; i < n; i++)
        bay_array_push(a, bay_str(bay__recent_at(r, i, NULL)));
    return a;
}

int logs_audit(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p;
    int64_t want;
    int rc = wanted(args, "lines", 1, AUDIT_LINES, &want, err);
    if (rc == 0)
        *out = recent_value(b->logs->audit, want, 0);
    return rc;
}

int logs_plugin(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    int64_t want, after;
    int rc = wanted(args, "lines", 1, PLUGIN_LINES, &want, err);
    if (rc == 0)
        rc = wanted(args, "after", 0, 0, &after, err);
    if (rc)
        return rc;
    const bay__recent *r = lines_of(b->logs, p->id);
    uint64_t next = r ? bay__recent_next(r) : 1, oldest = 0;
    if (r && bay__recent_count(r))
        bay__recent_at(r, 0, &oldest);
    else
        oldest = next;
    *out = bay_map();
    bay_map_set(*out, "id", bay_str(p->id));
    bay_map_set(*out, "lines", recent_value(r, want, after));
    bay_map_set(*out, "last", bay_int((int64_t)next - 1));
    bay_map_set(*out, "missed", bay_int(after > 0 && (uint64_t)after + 1 < oldest ? (int64_t)(oldest - (uint64_t)after - 1) : 0));
    return 0;
}
