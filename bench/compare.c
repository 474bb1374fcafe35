/* bench/compare.c — plugbay-bench --compare: the change of every figure between two results files. */
#include "compare.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* element_name names an array element by its "language", "name", "id" or "path" member; NULL when it has none. */
static const char *element_name(const json_t *v)
{
    static const char *const keys[] = {"language", "name", "id", "path"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_is_string(json_object_get(v, keys[i])))
            return json_string_value(json_object_get(v, keys[i]));
    return NULL;
}

/* flatten adds every numeric leaf of v under path prefix to figures ({path: number}, in document order). */
static void flatten(const json_t *v, const char *prefix, json_t *figures)
{
    char path[512];
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_number(v)) {
        json_object_set_new(figures, prefix, json_real(json_number_value(v)));
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child) {
            snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
            flatten(child, path, figures);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            const char *name = element_name(child);
            if (name)
                snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
            else
                snprintf(path, sizeof path, "%s[%zu]", prefix, i);
            flatten(child, path, figures);
        }
    }
}

/* load reads a results file into its flattened figures; NULL (said on stderr) when it is not JSON. */
static json_t *load(const char *path)
{
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    if (doc == NULL) {
        if (e.line > 0)
            fprintf(stderr, "plugbay-bench: --compare: %s: line %d: %s\n", path, e.line, e.text);
        else
            fprintf(stderr, "plugbay-bench: --compare: %s: %s\n", path, e.text);
        return NULL;
    }
    json_t *figures = json_object();
    flatten(doc, "", figures);
    json_decref(doc);
    return figures;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* sense says which way a figure should go: 1 higher is better, -1 lower is better, 0 not judged. */
static int sense(const char *path)
{
    if (strncmp(path, "baselines.", 10) == 0 || ends_with(path, ".baseline") || strstr(path, ".soak.") ||
        strncmp(path, "soak.", 5) == 0)
        return 0; /* the machine's figures, and the soak's memory (its own check), not plugbay's speed */
    if (strstr(path, "per_s") || strstr(path, "pipelined")) /* rates: calls/s, MB/s, chunks/s */
        return 1;
    static const char *const lower[] = {"_us", "_ms", "_kb", "seconds", ".value", ".ratio"};
    for (size_t i = 0; i < sizeof lower / sizeof lower[0]; i++)
        if (ends_with(path, lower[i]))
            return -1;
    return 0;
}

/* only_in lists the figures of a that b lacks; returns how many. */
static int only_in(const json_t *a, const json_t *b, const char *side, FILE *out)
{
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach((json_t *)a, key, v) {
        if (json_object_get(b, key) == NULL) {
            if (n++ == 0)
                fprintf(out, "\nonly in %s:\n", side);
            fprintf(out, "  %-58s %12.4g\n", key, json_real_value(v));
        }
    }
    return n;
}

int bay__bench_compare(const char *old_path, const char *new_path, double fail_over, FILE *out)
{
    json_t *old = load(old_path), *new = old ? load(new_path) : NULL;
    if (new == NULL) {
        json_decref(old);
        return 2;
    }
    fprintf(out, "%-60s %12s %12s %9s\n", "figure (old -> new)", "old", "new", "change");
    const char *key;
    json_t *o;
    int better = 0, worse = 0, over = 0;
    json_object_foreach(old, key, o) {
        json_t *n = json_object_get(new, key);
        if (n == NULL)
            continue;
        double a = json_real_value(o), b = json_real_value(n), pct = a != 0 ? (b - a) / fabs(a) * 100 : NAN;
        int s = sense(key);
        const char *verdict = s == 0 ? "" : b == a ? "same" : (b > a) == (s > 0) ? "better" : "worse";
        better += *verdict == 'b';
        worse += *verdict == 'w';
        bool beyond = *verdict == 'w' && fail_over >= 0 && ends_with(key, ".ratio") && !(fabs(pct) <= fail_over);
        over += beyond;
        if (isnan(pct))
            fprintf(out, "  %-58s %12.4g %12.4g %9s  %s\n", key, a, b, "n/a", verdict);
        else
            fprintf(out, "  %-58s %12.4g %12.4g %+8.1f%%  %s%s\n", key, a, b, pct, verdict, beyond ? " (over)" : "");
    }
    int gone = only_in(old, new, old_path, out), added = only_in(new, old, new_path, out);
    fprintf(out, "\n%d better, %d worse, %d only in the old file, %d only in the new one", better, worse, gone, added);
    if (fail_over >= 0)
        fprintf(out, "; %d ratio%s worse by more than %g%%", over, over == 1 ? "" : "s", fail_over);
    fprintf(out, "\n");
    json_decref(old);
    json_decref(new);
    return over ? 1 : 0;
}
