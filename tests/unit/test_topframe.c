/* tests/unit/test_topframe.c — cli/topframe.c: plugbay top's frame from two status replies: rates, CPU %, sorting, names made safe. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topframe.h"

static bay_value *json(const char *text)
{
    bay_value *v = NULL;
    char why[200];
    cr_assert_eq(bay_value_from_json(text, &v, why, sizeof why), 0, "%s: %s", why, text);
    return v;
}

/* reply makes a status reply: plugins a (pid 10) and b (pid pid_b) with calls, errors and CPU time, and extension points. */
static bay_value *reply(int a_calls, int a_errors, int a_cpu, int b_calls, int b_errors, int b_cpu, int pid_b)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"broker\": {\"version\": \"1.2.3\", \"uptime_ms\": 61000, \"connections\": 3},"
             " \"plugins\": [{\"id\": \"a\", \"state\": \"loaded\", \"pid\": 10, \"calls\": %d, \"errors\": %d,"
             " \"cpu_ms\": %d, \"pss_kb\": 2048, \"p50_us\": 900, \"p99_us\": 2500, \"restarts\": 0},"
             " {\"id\": \"b\", \"state\": \"failed\", \"pid\": %d, \"calls\": %d, \"errors\": %d, \"cpu_ms\": %d}],"
             " \"extension_points\": [{\"name\": \"quiet\", \"kind\": \"event\", \"providers\": [], \"calls\": 1},"
             " {\"name\": \"busy\", \"kind\": \"handle\", \"providers\": [\"a\", \"b\"], \"calls\": %d}]}",
             a_calls, a_errors, a_cpu, pid_b, b_calls, b_errors, b_cpu, a_calls + b_calls);
    return json(text);
}

/* line returns the line of t that starts with prefix and a space (its index in *at), or NULL. */
static const char *line(const top_text *t, const char *prefix, size_t *at)
{
    for (size_t i = 0; i < t->n; i++)
        if (strncmp(t->lines[i], prefix, strlen(prefix)) == 0 && t->lines[i][strlen(prefix)] == ' ') {
            *at = i;
            return t->lines[i];
        }
    cr_assert_fail("no line starts with \"%s\"", prefix);
    return NULL;
}

/* word returns the nth word (from 0) of s, in buf. */
static const char *word(const char *s, int nth, char *buf, size_t len)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", s);
    char *save = NULL, *w = strtok_r(copy, " ", &save);
    for (int i = 0; w && i < nth; i++)
        w = strtok_r(NULL, " ", &save);
    snprintf(buf, len, "%s", w ? w : "");
    return buf;
}

Test(topframe, rates_come_from_the_difference_of_two_replies)
{
    bay_value *before = reply(100, 1, 1000, 10, 5, 200, 20), *now = reply(300, 1, 1500, 12, 9, 300, 20);
    top_text t;
    cr_assert_eq(top_frame(before, now, 2.0, TOP_SORT_CALLS, 1, false, &t, NULL), 0);
    size_t ia, ib, ibusy;
    const char *a = line(&t, "a", &ia), *b = line(&t, "b", &ib), *busy = line(&t, "busy", &ibusy);
    char w[64];
    cr_assert_str_eq(word(a, 2, w, sizeof w), "100.0", "calls/s: 200 calls in 2 s: %s", a);
    cr_assert_str_eq(word(a, 3, w, sizeof w), "0.0", "errors/s: %s", a);
    cr_assert_str_eq(word(a, 8, w, sizeof w), "25.0", "CPU %%: 500 ms in 2 s: %s", a);
    cr_assert_str_eq(word(a, 9, w, sizeof w), "2.0M", "memory: %s", a);
    cr_assert_str_eq(word(a, 6, w, sizeof w), "900us", "p50: %s", a);
    cr_assert_str_eq(word(a, 7, w, sizeof w), "2.5ms", "p99: %s", a);
    cr_assert_str_eq(word(b, 3, w, sizeof w), "2.0", "b's errors/s: %s", b);
    cr_assert_lt(ia, ib, "sorted by calls/s");
    cr_assert_str_eq(word(busy, 3, w, sizeof w), "101.0", "an extension point's calls/s: %s", busy);
    size_t iquiet;
    line(&t, "quiet", &iquiet);
    cr_assert_lt(ibusy, iquiet, "the busiest extension point first");
    cr_assert_not_null(strstr(t.lines[0], "plugbayd 1.2.3, up 1m 1s; connections 3"), "%s", t.lines[0]);
    cr_assert_not_null(strstr(t.lines[1], "1 loaded, 1 failed, 2 in all; calls/s 101.0, errors/s 2.0"), "%s",
                       t.lines[1]);
    cr_assert(t.title[ia - 1] && t.title[ibusy - 1], "each table has its title line");
    top_text_free(&t);

    cr_assert_eq(top_frame(before, now, 2.0, TOP_SORT_ERRORS, 1, true, &t, NULL), 0);
    line(&t, "a", &ia), line(&t, "b", &ib);
    cr_assert_lt(ib, ia, "sorted by errors/s");
    cr_assert_not_null(strstr(t.lines[2], "sorted by errors/s, every 1s; keys: c calls"), "%s", t.lines[2]);
    top_text_free(&t);
    bay_value_free(before);
    bay_value_free(now);
}

Test(topframe, the_first_frame_and_another_worker_have_no_rates)
{
    bay_value *before = reply(100, 1, 1000, 10, 5, 200, 20), *now = reply(300, 1, 1500, 12, 9, 5, 21);
    top_text t;
    size_t i;
    char w[64];
    cr_assert_eq(top_frame(NULL, now, 0, TOP_SORT_CPU, 1, false, &t, NULL), 0);
    cr_assert_str_eq(word(line(&t, "a", &i), 2, w, sizeof w), "-", "no reply before: no rate");
    cr_assert_str_eq(word(line(&t, "a", &i), 8, w, sizeof w), "-", "nor CPU %%");
    cr_assert_not_null(strstr(t.lines[1], "calls/s -, errors/s -"), "%s", t.lines[1]);
    top_text_free(&t);
    cr_assert_eq(top_frame(before, now, 1.0, TOP_SORT_CPU, 1, false, &t, NULL), 0);
    cr_assert_str_eq(word(line(&t, "b", &i), 8, w, sizeof w), "-", "a restarted worker's CPU time began again");
    cr_assert_str_eq(word(line(&t, "b", &i), 2, w, sizeof w), "2.0", "its calls/s still count");
    top_text_free(&t);
    bay_value_free(before);
    bay_value_free(now);
}

Test(topframe, names_cannot_drive_the_terminal)
{
    bay_value *now = json("{\"plugins\": [], \"extension_points\": [{\"name\": \"evil\\u001b[2Jname\\n\","
                          " \"kind\": \"handle\", \"providers\": [], \"calls\": 0}]}");
    top_text t;
    cr_assert_eq(top_frame(NULL, now, 0, TOP_SORT_CALLS, 1, false, &t, NULL), 0);
    size_t i;
    line(&t, "evil?[2Jname?", &i);
    for (size_t k = 0; k < t.n; k++)
        cr_assert_null(strchr(t.lines[k], '\033'), "no escape character in line %zu", k);
    top_text_free(&t);
    bay_value_free(now);
}

Test(topframe, at_most_the_busiest_extension_points)
{
    char text[4096] = "{\"plugins\": [], \"extension_points\": [";
    for (int i = 0; i < 2 * TOP_POINTS_MAX; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s{\"name\": \"p%02d\", \"calls\": %d}", i ? "," : "",
                 i, i);
    strcat(text, "]}");
    bay_value *now = json(text);
    top_text t;
    cr_assert_eq(top_frame(NULL, now, 0, TOP_SORT_CALLS, 1, false, &t, NULL), 0);
    size_t first, last;
    line(&t, "p19", &first);
    line(&t, "p10", &last);
    cr_assert_eq(last - first, TOP_POINTS_MAX - 1, "the ten with the most calls, most first");
    cr_assert_eq(last, t.n - 1);
    top_text_free(&t);
    bay_value_free(now);
}
