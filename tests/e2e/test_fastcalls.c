/* tests/e2e/test_fastcalls.c — every call a plugin answered is counted, fast ones from its worker's reports, which
 * plugbayd checks; a plugin that forges frames in its own channel's ring ends only its own stream. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callstat.h"
#include "harness.h"
#include "value_convert.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"test/slow", "test/hostile", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-fastcalls");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(fastcalls, .init = start, .fini = stop, .timeout = 120);

/* fast tells whether this run's hosts take the fast path (the _nng run does not). */
static bool fast(void)
{
    const char *env = getenv("PLUGBAY_FASTPATH");
    return env == NULL || strcmp(env, "0") != 0;
}

/* What counted waits for: a plugin's calls and errors in `info`. */
struct counts {
    const char *id;
    int64_t calls, errors;
};

static bool counted(void *arg)
{
    const struct counts *want = arg;
    return h_plugin_int(c, want->id, "calls") == want->calls && h_plugin_int(c, want->id, "errors") == want->errors;
}

/* expect_counts waits until id's calls and errors are exactly these. */
static void expect_counts(const char *id, int64_t calls, int64_t errors)
{
    struct counts want = {id, calls, errors};
    cr_assert(h_wait_until(counted, &want, 15000), "%s: calls %lld, errors %lld; wanted %lld and %lld", id,
              (long long)h_plugin_int(c, id, "calls"), (long long)h_plugin_int(c, id, "errors"), (long long)calls,
              (long long)errors);
}

/* echo_calls calls slow.echo n times. */
static void echo_calls(int n)
{
    char out[256];
    bay_error err;
    for (int i = 0; i < n; i++)
        cr_assert_eq(h_call_str(c, "slow.echo", "counted", 5000, out, sizeof out, &err), 0, "%s", err.message);
}

Test(fastcalls, calls_on_either_path_are_counted_with_their_failures)
{
    int64_t calls = h_plugin_int(c, "test/slow", "calls"), errors = h_plugin_int(c, "test/slow", "errors");
    enum { ANSWERED = 40, FAILED = 7 };
    echo_calls(ANSWERED);
    char out[256];
    bay_error err;
    for (int i = 0; i < FAILED; i++) { /* slow.sleep takes a number of ms */
        int rc = h_call_str(c, "slow.sleep", "not a number", 5000, out, sizeof out, &err);
        cr_assert_eq(rc, BAY_ETYPE, "got %s: %s", bay_errname(rc), err.message);
    }
    cr_assert_eq(h_fast_channels(c), fast() ? 1 : 0, "the calls did not take the path this run is about");
    expect_counts("test/slow", calls + ANSWERED + FAILED, errors + FAILED);
    int64_t hostile = h_plugin_int(c, "test/hostile", "calls");
    cr_assert_eq(h_call_str(c, "hostile.ping", NULL, 5000, out, sizeof out, &err), 0, "%s", err.message);
    expect_counts("test/hostile", hostile + 1, h_plugin_int(c, "test/hostile", "errors"));
    cr_assert_eq(h_plugin_int(c, "test/slow", "calls"), calls + ANSWERED + FAILED, "another plugin's call counted");
}

Test(fastcalls, a_reload_loses_no_call_of_either_worker)
{
    int64_t calls = h_plugin_int(c, "test/slow", "calls"), errors = h_plugin_int(c, "test/slow", "errors");
    echo_calls(30); /* the old worker reports those it served before its unload's answer at the latest */
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "test/slow", &err), 0, "%s", err.message);
    echo_calls(20);
    cr_assert_eq(h_fast_channels(c) > 0, fast(), "the calls did not take the path this run is about");
    expect_counts("test/slow", calls + 50, errors);
}

/* report is a fast-call report as a worker makes it: calls answered in
 * about 20 µs, errors of them failed with BAY_ETYPE. */
static bay_value *report(int64_t calls, int64_t errors)
{
    bay__callstat s = {0};
    for (int64_t i = 0; i < calls; i++)
        bay__callstat_add(&s, i < errors ? BAY_ETYPE : 0, 20);
    return bay__callstat_value(&s);
}

/* forge has test/hostile send plugbayd v as its worker's report of fast calls (and frees v). */
static void forge(bay_value *v)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    cr_assert_eq(bay__value_pack_to(&pk, v), 0);
    char hex[4096] = "", out[64];
    for (size_t i = 0; i < sb.size && 2 * i + 2 < sizeof hex; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)sb.data[i]);
    msgpack_sbuffer_destroy(&sb);
    bay_value_free(v);
    bay_error err;
    cr_assert_eq(h_call_str(c, "hostile.forge_fastcalls", hex, 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "sent");
}

Test(fastcalls, a_plugin_that_forges_malformed_reports_is_logged_counted_for_nothing_and_served)
{
    int64_t calls = h_plugin_int(c, "test/hostile", "calls"), errors = h_plugin_int(c, "test/hostile", "errors");
    int64_t slow = h_plugin_int(c, "test/slow", "calls");
    bay_value *v = report(1000, 10);
    bay_map_set(v, "calls", bay_int(1001)); /* the buckets hold 1000 */
    forge(v);
    v = report(1000, 10);
    bay_map_set(v, "errors", bay_int(1001));
    forge(v);
    v = report(1000, 10);
    bay_value *by_code = bay_map();
    bay_map_set(by_code, "1", bay_int(5)); /* 15 errors by code, 10 in all */
    bay_map_set(by_code, "2", bay_int(10));
    bay_map_set(v, "by_code", by_code);
    forge(v);
    v = report(1000, 0);
    bay_value *buckets = bay_array();
    for (int i = 0; i < BAY__CALLSTAT_BUCKETS + 1; i++)
        bay_array_push(buckets, bay_int(i ? 0 : 1000));
    bay_map_set(v, "buckets", buckets);
    forge(v);
    v = report(1000, 0);
    bay_map_set(v, "sum_us", bay_float(-1));
    forge(v);
    v = report(0, 0);
    bay_map_set(v, "calls", bay_int(-1000));
    forge(v);
    v = report(0, 0);
    bay_map_set(v, "calls", bay_int(INT64_C(1) << 40)); /* more than a second's worth */
    forge(v);
    v = report(1000, 0);
    bay_map_set(v, "buckets", bay_str("many"));
    forge(v);
    const char *said = "[test/hostile] ignored a malformed report of the calls its worker answered on fast channels: ";
    const char *whys[] = {"buckets add up to 1000 calls, not 1001",
                          "errors (no more than calls) must be a whole number from 0 to 1000",
                          "by_code adds up to 15 errors, not 10",
                          "buckets must be an array of 15 counts",
                          "sum_us must be a number of microseconds from 0",
                          "calls must be a whole number from 0 to 10000000",
                          NULL};
    for (int i = 0; whys[i]; i++) {
        char line[300];
        snprintf(line, sizeof line, "%s%s", said, whys[i]);
        cr_assert(h_wait_log(&h, line), "no log line %s", line);
    }
    /* A report that adds up is the worker's word for its own plugin's figures (docs/fastpath.md). */
    forge(report(5, 2));
    enum { FORGED = 9 }; /* the calls of hostile.forge_fastcalls themselves, counted as any */
    expect_counts("test/hostile", calls + FORGED + 5, errors + 2);
    cr_assert_eq(h_plugin_int(c, "test/slow", "calls"), slow, "another plugin's figures moved");
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "hostile.ping", NULL, 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_eq(h_call_str(c, "slow.echo", "still here", 5000, out, sizeof out, &err), 0, "%s", err.message);
}

Test(fastcalls, a_plugin_that_forges_frames_in_its_ring_ends_only_its_own_stream)
{
    if (!fast())
        return; /* through plugbayd there is no ring to forge in */
    /* test/hostile writes a frame of no call of this host's (skipped), then bytes that are no frame, into the ring
     * its worker answers this host on. */
    bay_value *args = bay_array(), *v = NULL;
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_stream(c, "hostile.forge_stream", args, &(bay_call_opts){.timeout_ms = 30000}, &s, &err),
                 0, "%s", err.message);
    int rc = bay_stream_next(s, -1, &v, &err);
    cr_assert_null(v, "a forged chunk was taken: %s", bay_value_str(v, NULL) ? bay_value_str(v, NULL) : "");
    cr_assert_eq(rc, BAY_EPROTO, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "test/hostile's worker sent an unreadable frame"), "%s", err.message);
    cr_assert_str_eq(err.plugin, "test/hostile");
    bay_stream_free(s);
    bay_value_free(args);
    /* The host drops the channel and cancels the call; the plugin's worker serves on, and the host's other plugin
     * was never touched. */
    echo_calls(5);
    char out[256];
    cr_assert_eq(h_call_str(c, "hostile.ping", NULL, 20000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "pong");
    cr_assert_eq(h_call_str(c, "hostile.ping", NULL, 20000, out, sizeof out, &err), 0, "%s", err.message);
}
