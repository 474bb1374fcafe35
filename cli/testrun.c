/* cli/testrun.c — plugbay test's run: each case of a test file called against a private plugbayd, one line each and a sum. */
#include "testrun.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most of a value a failure shows (a 10,000-item array would bury the report). */
#define SHOWN_MAX 400

/* How long a failed case waits for its log lines, which travel apart from the answer. */
#define LOG_WAIT_MS 300

/* What one case's call gave. */
typedef struct outcome {
    int rc;
    bay_error err;
    bay_value *result;
} outcome;

/* provider_values returns the values of an event's result (one {"plugin", "value" or "error"} per provider), a new
 * array; *failed says whether a provider failed. */
static bay_value *provider_values(const bay_value *result, bool *failed)
{
    bay_value *values = bay_array();
    *failed = false;
    for (size_t i = 0; i < bay_value_len(result); i++) {
        const bay_value *item = bay_array_get(result, i), *value = bay_map_get(item, "value");
        *failed = *failed || bay_map_get(item, "error") != NULL;
        bay_array_push(values, value ? bay_value_copy(value) : bay_nil());
    }
    return values;
}

/* read_stream reads case c's stream whole: o gets its chunks, in an array, and the code it ended with. */
static int read_stream(bay_conn *conn, const test_case *c, const bay_call_opts *opts, outcome *o)
{
    bay_stream *s = NULL;
    int rc = bay_call_stream(conn, c->point, c->args, opts, &s, &o->err);
    if (rc)
        return rc;
    o->result = bay_array();
    bay_value *chunk = NULL;
    while ((rc = bay_stream_next(s, -1, &chunk, &o->err)) == 0 && chunk)
        if (bay_array_push(o->result, chunk) != 0) { /* it freed chunk */
            rc = bay_error_set(&o->err, BAY_ENOMEM, NULL, "out of memory gathering the chunks of %s", c->point);
            break;
        }
    bay_stream_free(s);
    return rc;
}

/* passed tells whether what the case c got, o, is what it expects. */
static bool passed(const test_case *c, const outcome *o)
{
    if (c->error)
        return o->rc == c->error && (c->message == NULL || strstr(o->err.message, c->message));
    if (o->rc)
        return false;
    if (c->kind != TEST_EMIT)
        return c->expect == NULL || testfile_same(c->expect, o->result);
    bool failed;
    bay_value *values = provider_values(o->result, &failed);
    bool ok = !failed && (c->expect == NULL || testfile_same(c->expect, values));
    bay_value_free(values);
    return ok;
}

/* print_cut writes v as testfile_print does, cut after SHOWN_MAX bytes, saying how long it was. */
static void print_cut(FILE *f, const bay_value *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (m == NULL) {
        testfile_print(f, v);
        return;
    }
    testfile_print(m, v);
    fclose(m);
    if (len > SHOWN_MAX)
        fprintf(f, "%.*s... (%zu bytes in all)", SHOWN_MAX, text, len);
    else
        fputs(text, f);
    free(text);
}

/* print_expected says what the case c expects. */
static void print_expected(FILE *f, const test_case *c)
{
    fputs("     expected ", f);
    if (c->error)
        fprintf(f, "error %s%s%s%s\n", bay_errname(c->error), c->message ? " with \"" : "",
                c->message ? c->message : "", c->message ? "\" in its message" : "");
    else if (c->expect) {
        fputs(c->kind == TEST_EMIT ? "every provider to take it, their results " : c->kind == TEST_STREAM ? "the chunks "
              : "", f);
        print_cut(f, c->expect);
        fputc('\n', f);
    } else
        fputs(c->kind == TEST_EMIT ? "every provider to take it without error\n" : "no error\n", f);
}

/* report prints how case c failed: the call, the expected and the got, and id's log lines after mark. */
static void report(private_broker *pb, const char *id, const test_case *c, const outcome *o, int64_t mark)
{
    static const char *const verbs[] = {"call", "emit", "stream"};
    printf("FAIL %s\n     %s     %s ", c->name, verbs[c->kind], c->point);
    print_cut(stdout, c->args);
    if (c->context)
        printf(" in context %s", c->context);
    putchar('\n');
    print_expected(stdout, c);
    fputs("     got      ", stdout);
    if (o->rc) {
        printf("error %s: %s%s%s\n", bay_errname(o->rc), o->err.plugin, o->err.plugin[0] ? ": " : "", o->err.message);
    } else {
        print_cut(stdout, o->result);
        putchar('\n');
    }
    for (int waited = 0; waited < LOG_WAIT_MS && private_log_mark(pb, id) <= mark; waited += 50)
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    fputs("     log lines of the call:\n", stdout);
    if (!private_print_log(pb, id, mark, "       ", stdout))
        fputs("       (none)\n", stdout);
}

size_t testrun(private_broker *pb, const char *id, const char *context, const test_file *t)
{
    size_t failed = 0, ran = 0;
    for (size_t i = 0; i < t->ncases && !private_interrupted(); i++, ran++) {
        const test_case *c = &t->cases[i];
        int64_t mark = private_log_mark(pb, id);
        outcome o = {0};
        bay_call_opts opts = {.timeout_ms = c->timeout_ms, .context = c->context ? c->context : context};
        o.rc = c->kind == TEST_STREAM ? read_stream(pb->conn, c, &opts, &o)
                                      : bay_call(pb->conn, c->point, c->args, &opts, &o.result, &o.err);
        if (private_interrupted()) { /* the call was cut short: it did not run to its end */
            bay_value_free(o.result);
            break;
        }
        if (passed(c, &o)) {
            printf("ok   %s\n", c->name);
        } else {
            failed++;
            report(pb, id, c, &o, mark);
        }
        bay_value_free(o.result);
        fflush(stdout);
    }
    printf("%zu passed, %zu failed%s\n", ran - failed, failed, ran < t->ncases ? " (interrupted)" : "");
    fflush(stdout);
    return failed + (t->ncases - ran);
}
