/* broker/metrics.c — each plugin's counters sampled once a second into its history, the /metrics text, and the stats and metrics commands (metrics.h).
 *
 * Everything here is sampled from the cumulative counters others keep
 * (p->stats.total, route.c's, with the fast calls workers report; restarts;
 * refusals) and from /proc, read once a second per worker: no call path is
 * hooked. */
#include "broker.h"
#include "conn.h"
#include "fastpath.h"
#include "history.h"
#include "metrics.h"
#include "metrics_http.h"
#include "route.h"
#include "supervise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_MS 1000
#define DAY_S 86400
/* Workers whose PSS is read in one sample: reading /proc/PID/smaps_rollup
 * walks a worker's mappings (about 80 µs, over 1 ms under AddressSanitizer),
 * so with more plugins each is read in turn, every nplugins / PSS_READS s. */
#define PSS_READS 32

struct metrics {
    int64_t next_ms;     /* when the next sample is due */
    size_t pss_from;     /* the first plugin whose PSS the next sample reads */
    metrics_http *http;  /* NULL without --metrics */
};

int metrics_init(broker *b, bay_error *err)
{
    if ((b->metrics = calloc(1, sizeof *b->metrics)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if (b->opt.metrics_addr == NULL)
        return 0;
    return metrics_http_start(b->opt.metrics_addr, b->opt.metrics_token_file, b->opt.state_dir, &b->metrics->http, err);
}

void metrics_plugin_free(plugin *p)
{
    bay__history_free(p->usage.history);
    p->usage.history = NULL;
}

void metrics_free(broker *b)
{
    if (b->metrics)
        metrics_http_stop(b->metrics->http);
    free(b->metrics);
    b->metrics = NULL;
}

/* ---- sampling -------------------------------------------------------------- */

/* meter adds to *cpu_ms the CPU time worker pid used since *seen last read
 * it (all of it for a worker not seen before: a restart's, a reload's) and
 * to *pss_kb its PSS, read again when read_pss (a new worker's is unknown
 * until then); what a worker used after its last sample before it ended is
 * not counted. */
static void meter(worker_seen *seen, pid_t pid, bool read_pss, int64_t *cpu_ms, int64_t *pss_kb)
{
    int64_t cpu = -1, pss = seen->pid == pid ? seen->pss_kb : -1;
    if (pid)
        supervise_usage(pid, &cpu, read_pss ? &pss : NULL);
    if (cpu < 0) {
        *seen = (worker_seen){.pid = 0, .pss_kb = -1};
        return;
    }
    int64_t was = seen->pid == pid ? seen->cpu_ms : 0;
    *cpu_ms += cpu > was ? cpu - was : 0;
    *seen = (worker_seen){.pid = pid, .cpu_ms = cpu, .pss_kb = pss};
    if (pss >= 0)
        *pss_kb = (*pss_kb > 0 ? *pss_kb : 0) + pss;
}

/* usage reads the CPU time and PSS of p's serving worker and its replicas. */
static void usage(plugin *p, bool read_pss)
{
    plugin_usage *u = &p->usage;
    int64_t pss_kb = -1;
    meter(&u->seen, p->proc.pid, read_pss, &u->cpu_ms, &pss_kb);
    for (size_t i = 0; i < p->nreplicas; i++)
        meter(&p->replicas[i]->seen, p->replicas[i]->proc.pid, read_pss, &u->cpu_ms, &pss_kb);
    u->pss_kb = pss_kb;
}

/* sample records p at second now, with its worker's PSS read again when
 * read_pss; a plugin that never had a worker nor a call gets no history (nor
 * its memory) yet. */
static void sample(plugin *p, int64_t now, bool read_pss)
{
    if (p->usage.history == NULL && p->proc.pid == 0 && p->stats.total.calls == 0)
        return;
    if (p->usage.history == NULL && (p->usage.history = bay__history_new()) == NULL)
        return; /* out of memory: tried again next second */
    usage(p, read_pss);
    bay__history_counters c = {&p->stats.total, p->life.restarts, p->proc.refused_total, p->usage.cpu_ms,
                               p->usage.pss_kb};
    bay__history_sample(p->usage.history, now, &c);
}

/* ---- the exposition (Prometheus's text format 0.0.4) ---------------------- */

/* put_label writes value escaped as a label value: \\, \" and \n. */
static void put_label(FILE *f, const char *value)
{
    for (const char *s = value; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f), fputc(*s, f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* sample_start writes NAME{plugin="ID" (the caller adds labels, then "} ", then the value). */
static void sample_start(FILE *f, const char *name, const plugin *p)
{
    fprintf(f, "%s{plugin=\"", name);
    put_label(f, p->id);
    fputc('"', f);
}

/* per_plugin writes one sample per plugin of value(p). */
static void per_plugin(FILE *f, const broker *b, const char *name, double (*value)(const plugin *p))
{
    for (size_t i = 0; i < b->nplugins; i++) {
        sample_start(f, name, b->plugins[i]);
        fprintf(f, "} %.15g\n", value(b->plugins[i]));
    }
}

static double up(const plugin *p)
{
    return p->life.state == PS_LOADED;
}
static double calls(const plugin *p)
{
    return (double)p->stats.total.calls;
}
static double restarts(const plugin *p)
{
    return p->life.restarts;
}
static double cpu_seconds(const plugin *p)
{
    return (double)p->usage.cpu_ms / 1000;
}
static double memory_bytes(const plugin *p)
{
    return p->usage.pss_kb > 0 && p->proc.pid ? (double)p->usage.pss_kb * 1024 : 0;
}
static double refusals(const plugin *p)
{
    return (double)p->proc.refused_total;
}
static double in_flight(const plugin *p)
{
    return p->stats.inflight;
}

/* code_label names error code for metrics and stats: its BAY_E* name, or
 * "other" for the codes callstat.h counts together in its last slot. */
static const char *code_label(int code)
{
    const char *name = bay_errname(code);
    return strcmp(name, "BAY_E?") == 0 ? "other" : name;
}

/* errors writes each plugin's failed calls by error code. */
static void errors(FILE *f, const broker *b)
{
    family(f, "plugbay_plugin_errors_total", "counter", "Calls that failed, by error code, since plugbayd started.");
    for (size_t i = 0; i < b->nplugins; i++)
        for (int code = 1; code < BAY__CALLSTAT_CODES; code++) {
            uint64_t n = b->plugins[i]->stats.total.by_code[code];
            if (n == 0)
                continue;
            sample_start(f, "plugbay_plugin_errors_total", b->plugins[i]);
            fprintf(f, ",code=\"%s\"} %llu\n", code_label(code), (unsigned long long)n);
        }
}

/* durations writes each plugin's call-time histogram: cumulative buckets in seconds, +Inf, _sum, _count. */
static void durations(FILE *f, const broker *b)
{
    family(f, "plugbay_plugin_call_duration_seconds", "histogram",
           "How long calls took, from plugbayd's routing or the worker's fast channel to their answer.");
    for (size_t i = 0; i < b->nplugins; i++) {
        const bay__callstat *s = &b->plugins[i]->stats.total;
        uint64_t below = 0;
        for (size_t k = 0; k < BAY__CALLSTAT_BUCKETS; k++) {
            below += s->buckets[k];
            sample_start(f, "plugbay_plugin_call_duration_seconds_bucket", b->plugins[i]);
            if (k + 1 < BAY__CALLSTAT_BUCKETS)
                fprintf(f, ",le=\"%g\"} %llu\n", bay__callstat_bounds_us[k] / 1e6, (unsigned long long)below);
            else
                fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)below);
        }
        sample_start(f, "plugbay_plugin_call_duration_seconds_sum", b->plugins[i]);
        fprintf(f, "} %.9g\n", s->sum_us / 1e6);
        sample_start(f, "plugbay_plugin_call_duration_seconds_count", b->plugins[i]);
        fprintf(f, "} %llu\n", (unsigned long long)s->calls);
    }
}

/* queue_depth counts the frames NNG's threads queued for the loop, over every connection. */
static size_t queue_depth(broker *b)
{
    size_t n = 0, depth = 0;
    conn **all = conn_snapshot(b, &n);
    for (size_t i = 0; all && i < n; i++)
        depth += (size_t)atomic_load(&all[i]->backlog);
    free(all);
    return depth;
}

static void broker_metrics(FILE *f, broker *b)
{
    family(f, "plugbay_connections", "gauge", "Connections open: hosts, the CLI and workers.");
    fprintf(f, "plugbay_connections %zu\n", bay__idmap_count(b->conns));
    family(f, "plugbay_frames_total", "counter", "Frames received from and sent to peers since plugbayd started.");
    fprintf(f, "plugbay_frames_total{direction=\"received\"} %llu\n", (unsigned long long)b->frames_received);
    fprintf(f, "plugbay_frames_total{direction=\"sent\"} %llu\n", (unsigned long long)b->frames_sent);
    family(f, "plugbay_queue_depth", "gauge", "Frames NNG's threads queued that plugbayd's loop has not handled yet.");
    fprintf(f, "plugbay_queue_depth %zu\n", queue_depth(b));
    family(f, "plugbay_calls_in_flight", "gauge", "Calls plugbayd routed that are not answered yet.");
    fprintf(f, "plugbay_calls_in_flight %zu\n", route_in_flight(b));
    family(f, "plugbay_fast_channels", "gauge", "Fast channels granted to hosts.");
    fprintf(f, "plugbay_fast_channels %zu\n", fastpath_count(b));
}

/* render writes the whole exposition to a new string (*len its length); NULL when out of memory. */
static char *render(broker *b, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        return NULL;
    static const struct {
        const char *name, *type, *help;
        double (*value)(const plugin *p);
    } simple[] = {
        {"plugbay_plugin_up", "gauge", "1 when the plugin is loaded, else 0.", up},
        {"plugbay_plugin_calls_total", "counter", "Calls that ended, answered or failed, since plugbayd started.", calls},
        {"plugbay_plugin_restarts_total", "counter", "Restarts after crashes since plugbayd started.", restarts},
        {"plugbay_plugin_cpu_seconds_total", "counter", "CPU time its workers used, as sampled each second.",
         cpu_seconds},
        {"plugbay_plugin_memory_bytes", "gauge", "Its worker's proportional set size (PSS); 0 without a worker.",
         memory_bytes},
        {"plugbay_plugin_sandbox_refusals_total", "counter", "Operations its sandbox refused since plugbayd started.",
         refusals},
        {"plugbay_plugin_calls_in_flight", "gauge", "Its calls plugbayd routed that are not answered yet.", in_flight},
    };
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++) {
        family(f, simple[i].name, simple[i].type, simple[i].help);
        per_plugin(f, b, simple[i].name, simple[i].value);
    }
    family(f, "plugbay_plugin_state", "gauge", "1 for the plugin's state now (label state).");
    for (size_t i = 0; i < b->nplugins; i++) {
        sample_start(f, "plugbay_plugin_state", b->plugins[i]);
        fprintf(f, ",state=\"%s\"} 1\n", plugin_state_name(b->plugins[i]->life.state));
    }
    errors(f, b);
    durations(f, b);
    broker_metrics(f, b);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int64_t metrics_tick(broker *b, int64_t now)
{
    if (now < b->metrics->next_ms)
        return b->metrics->next_ms;
    b->metrics->next_ms = (now / SAMPLE_MS + 1) * SAMPLE_MS;
    size_t n = b->nplugins, from = n ? b->metrics->pss_from % n : 0;
    for (size_t i = 0; i < n; i++)
        sample(b->plugins[i], now / SAMPLE_MS, (i + n - from) % n < PSS_READS);
    b->metrics->pss_from = from + PSS_READS;
    size_t len = 0;
    char *text = b->metrics->http ? render(b, &len) : NULL;
    if (text)
        metrics_http_publish(b->metrics->http, text, len);
    free(text);
    return b->metrics->next_ms;
}

/* ---- the commands ------------------------------------------------------------ */

/* slot_value is one slot of stats's answer, starting at unix time t. */
static bay_value *slot_value(const bay__history_slot *s, int64_t t)
{
    bay_value *v = bay_map();
    bay_map_set(v, "t", bay_int(t));
    const struct {
        const char *key;
        int64_t n;
    } fields[] = {
        {"calls", s->calls},   {"errors", s->errors}, {"p50_us", s->p50_us},     {"p99_us", s->p99_us},
        {"cpu_ms", s->cpu_ms}, {"pss_kb", s->pss_kb}, {"restarts", s->restarts}, {"refusals", s->refusals},
        {"sampled", s->sampled},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        bay_map_set(v, fields[i].key, bay_int(fields[i].n));
    return v;
}

/* slots returns p's slots of the last since seconds: one per second up to an
 * hour, else one per minute; times in unix seconds. */
static bay_value *slots(const plugin *p, int64_t since, int64_t step)
{
    bay_value *a = bay_array();
    const bay__history *h = p->usage.history;
    int64_t last = h ? bay__history_last(h) : -1;
    if (last < 0)
        return a;
    int64_t wall_offset = (int64_t)time(NULL) - bay__now_ms() / 1000; /* history's clock is the monotonic one */
    int64_t first = (last - since + 1) / step, end = last / step;
    bay__history_slot s;
    for (int64_t i = first < 0 ? 0 : first; i <= end; i++)
        if ((step == 1 ? bay__history_second(h, i, &s) : bay__history_minute(h, i, &s)) == 0)
            bay_array_push(a, slot_value(&s, i * step + wall_offset));
    return a;
}

int metrics_stats(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)b;
    const bay_value *sv = bay_map_get(args, "since");
    int64_t since = sv ? bay_value_int(sv) : 600;
    if (sv && bay_value_type(sv) != BAY_INT)
        return bay_error_set(err, BAY_EINVAL, p->id, "\"since\" must be a whole number of seconds, not a %s",
                             bay_type_name(bay_value_type(sv)));
    if (since <= 0 || since > DAY_S)
        return bay_error_set(err, BAY_EINVAL, p->id,
                             "\"since\" must be from 1 second to 86400 (one day, the history kept), not %lld",
                             (long long)since);
    int64_t step = since <= 3600 ? 1 : 60;
    bay_value *v = bay_map(), *codes = bay_map();
    bay_map_set(v, "id", bay_str(p->id));
    bay_map_set(v, "since", bay_int(since));
    bay_map_set(v, "resolution_s", bay_int(step));
    bay_map_set(v, "slots", slots(p, since, step));
    for (int code = 1; code < BAY__CALLSTAT_CODES; code++)
        if (p->stats.total.by_code[code])
            bay_map_set(codes, code_label(code), bay_int((int64_t)p->stats.total.by_code[code]));
    bay_map_set(v, "errors_by_code", codes);
    bay_map_set(v, "calls_total", bay_int((int64_t)p->stats.total.calls));
    bay_map_set(v, "errors_total", bay_int((int64_t)p->stats.total.errors));
    bay_map_set(v, "history_bytes", bay_int((int64_t)bay__history_bytes(p->usage.history)));
    *out = v;
    return 0;
}

int metrics_where(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p, (void)args;
    const metrics_http *m = b->metrics ? b->metrics->http : NULL;
    if (m == NULL)
        return bay_error_set(err, BAY_ENOENT, NULL,
                             "plugbayd serves no /metrics: start it with --metrics 127.0.0.1:PORT");
    *out = bay_map();
    bay_map_set(*out, "url", bay_str(metrics_http_url(m)));
    bay_map_set(*out, "token", bay_str(metrics_http_token(m)));
    bay_map_set(*out, "token_file", bay_str(metrics_http_token_file(m)));
    return 0;
}
