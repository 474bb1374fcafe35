/* tests/e2e/test_streams.c — streamed answers and input under the real broker: conform.stream served by the conformance
 * plugins in C, Lua, Python and WebAssembly, read with bay_call_stream and gathered by a plain call; an error after
 * chunks; back-pressure (a window of chunks, then credit) seen from a raw connection; a stream abandoned by its
 * host, cancelled, cut by its deadline, left by a host that went away; conform.upload taking a host's input
 * (bay_call_upload) in every language, past many windows, both ways at once, abandoned, never ended, typed; hostile
 * windows, credits, chunks and ENDs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "frame.h"
#include "harness.h"
#include "wire.h"

static harness h;
static bay_conn *c;

static const char *const langs[] = {"c", "lua", "python", "wasm", NULL};
static const char *const ids[] = {"conform/c", "conform/lua", "conform/python", "conform/wasm", NULL};

/* typed/c: conform/c's code providing conform.stream as two typed handles: typed.ints, whose result is an array
 * of at most 4 integers, and typed.text, whose result is a string (no array: it cannot stream); and conform.upload
 * as typed.sum, whose input is at most 5 integers, the first not negative. */
static const char typed_manifest[] =
    "{\"name\": \"Typed streams\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\", "
    "\"provides\": ["
    "{\"name\": \"typed.ints\", \"kind\": \"handle\", \"function\": \"conform_stream\", \"types\": {\"result\": "
    "{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"maxItems\": 4}}},"
    "{\"name\": \"typed.text\", \"kind\": \"handle\", \"function\": \"conform_stream\", \"types\": {\"result\": "
    "{\"type\": \"string\"}}},"
    "{\"name\": \"typed.sum\", \"kind\": \"handle\", \"function\": \"conform_upload\", \"types\": {\"input\": "
    "{\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\", \"minimum\": 0}], \"items\": {\"type\": "
    "\"integer\"}, \"maxItems\": 5}}}]}";

static void start(void)
{
    h_setup(&h, ids);
    h_clone_plugin(&h, "conform/c", "typed/c", typed_manifest);
    h_start(&h, NULL);
    c = h_connect(&h, "test-streams");
    h_wait_loaded(c, ids);
    const char *typed[] = {"typed/c", NULL};
    h_wait_loaded(c, typed);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(streams, .init = start, .fini = stop, .timeout = 180);

/* open_stream starts conform.stream(args) at lang's plugin (its context) within timeout_ms (0: the default). */
static bay_stream *open_stream(bay_conn *conn, const char *lang, const char *args_json, int timeout_ms)
{
    char ctx[64], why[200];
    snprintf(ctx, sizeof ctx, "conform/%s", lang);
    bay_value *args = NULL;
    cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0, "%s", why);
    bay_call_opts opts = {.timeout_ms = timeout_ms, .context = ctx};
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_stream(conn, "conform.stream", args, &opts, &s, &err), 0, "%s", err.message);
    bay_value_free(args);
    return s;
}

/* next_json takes s's next chunk as JSON into out ("END" at its end); returns the code bay_stream_next gave. */
static int next_json(bay_stream *s, char *out, size_t len, bay_error *err)
{
    bay_value *v = NULL;
    int rc = bay_stream_next(s, -1, &v, err);
    if (rc == 0 && v == NULL)
        snprintf(out, len, "END");
    else if (rc == 0) {
        char *j = NULL;
        bay_value_to_json(v, &j);
        snprintf(out, len, "%s", j ? j : "?");
        free(j);
    }
    bay_value_free(v);
    return rc;
}

/* still_answers asserts that lang's plugin still serves a plain call. */
static void still_answers(const char *lang)
{
    char ctx[64];
    snprintf(ctx, sizeof ctx, "conform/%s", lang);
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("still here"));
    bay_call_opts opts = {.timeout_ms = 20000, .context = ctx};
    bay_error err;
    cr_assert_eq(bay_call(c, "conform.echo", args, &opts, &res, &err), 0, "%s: %s", lang, err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "still here");
    bay_value_free(args);
    bay_value_free(res);
}

Test(streams, every_language_streams_its_chunks_then_its_last_value)
{
    for (size_t i = 0; langs[i]; i++) {
        bay_stream *s = open_stream(c, langs[i], "[5, 0, \"last\"]", 20000);
        char got[512] = "", one[64];
        bay_error err;
        for (;;) {
            cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s: %s", langs[i], err.message);
            strncat(got, one, sizeof got - strlen(got) - 2);
            if (strcmp(one, "END") == 0)
                break;
            strcat(got, " ");
        }
        cr_assert_str_eq(got, "0 1 2 3 4 \"last\" END", "%s streamed %s", langs[i], got);
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "the end stays the end");
        cr_assert_str_eq(one, "END");
        bay_stream_free(s);
    }
}

Test(streams, a_plain_call_gets_every_chunk_in_one_array)
{
    for (size_t i = 0; langs[i]; i++) {
        char ctx[64], args[] = "[3, 0]";
        snprintf(ctx, sizeof ctx, "conform/%s", langs[i]);
        bay_value *a = NULL, *res = NULL;
        char why[200];
        cr_assert_eq(bay_value_from_json(args, &a, why, sizeof why), 0);
        bay_call_opts opts = {.timeout_ms = 20000, .context = ctx};
        bay_error err;
        cr_assert_eq(bay_call(c, "conform.stream", a, &opts, &res, &err), 0, "%s: %s", langs[i], err.message);
        char *j = NULL;
        cr_assert_eq(bay_value_to_json(res, &j), 0);
        cr_assert_str_eq(j, "[0,1,2]", "%s gathered %s", langs[i], j);
        free(j);
        bay_value_free(a);
        bay_value_free(res);
    }
}

Test(streams, an_error_after_chunks_reaches_the_reader_after_them)
{
    for (size_t i = 0; langs[i]; i++) {
        bay_stream *s = open_stream(c, langs[i], "[2, 0, \"error\"]", 20000);
        char one[64];
        bay_error err;
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_str_eq(one, "0");
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_str_eq(one, "1");
        cr_assert_eq(next_json(s, one, sizeof one, &err), BAY_EIO, "%s", langs[i]);
        char needle[64];
        snprintf(needle, sizeof needle, "conform/%s failed after 2 chunks", langs[i]);
        cr_assert(strstr(err.message, needle), "%s: %s", langs[i], err.message);
        cr_assert_str_eq(err.plugin, ids[i]);
        bay_stream_free(s);
    }
}

Test(streams, big_chunks_arrive_whole_and_in_order)
{
    bay_stream *s = open_stream(c, "c", "[300, 65536]", 60000);
    for (int i = 0; i < 300; i++) {
        bay_value *v = NULL;
        bay_error err;
        cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "chunk %d: %s", i, err.message);
        cr_assert_eq(bay_value_type(v), BAY_BIN, "chunk %d", i);
        size_t n = 0;
        const unsigned char *b = (const unsigned char *)bay_value_str(v, &n);
        cr_assert_eq(n, 65536);
        cr_assert(b[0] == (unsigned char)i && b[n - 1] == (unsigned char)i, "chunk %d out of order", i);
        bay_value_free(v);
    }
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert_null(v, "the stream ends after its 300 chunks");
    bay_stream_free(s);
}

Test(streams, a_stream_that_never_ends_stops_at_its_deadline_in_every_language)
{
    for (size_t i = 0; langs[i]; i++) {
        long long t0 = h_now_ms();
        bay_stream *s = open_stream(c, langs[i], "[-1, 0]", 800);
        int rc;
        size_t n = 0;
        bay_error err;
        for (;;) {
            bay_value *v = NULL;
            if ((rc = bay_stream_next(s, -1, &v, &err)) != 0 || v == NULL)
                break;
            cr_assert_eq(bay_value_int(v), (int64_t)n, "%s: chunk %zu in order", langs[i], n);
            bay_value_free(v);
            n++;
        }
        cr_assert_eq(rc, BAY_ETIMEDOUT, "%s: a never-ending stream ends at its deadline (got %s: %s)", langs[i],
                     bay_errname(rc), err.message);
        cr_assert_gt(n, 0, "%s streamed before its deadline", langs[i]);
        cr_assert_lt(h_now_ms() - t0, 15000, "%s: the deadline cut it in time", langs[i]);
        bay_stream_free(s);
        still_answers(langs[i]);
    }
}

Test(streams, a_stream_abandoned_by_its_host_stops_its_provider_in_every_language)
{
    for (size_t i = 0; langs[i]; i++) {
        bay_stream *s = open_stream(c, langs[i], "[-1, 1024]", 60000);
        for (int k = 0; k < 200; k++) { /* past several windows: credit flows */
            bay_value *v = NULL;
            bay_error err;
            cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s: %s", langs[i], err.message);
            cr_assert_not_null(v);
            bay_value_free(v);
        }
        bay_stream_free(s); /* abandoned while the provider waits for credit */
        still_answers(langs[i]); /* it answers only once the endless stream stopped */
    }
}

Test(streams, a_cancelled_stream_ends_with_canceled_after_its_chunks)
{
    bay_stream *s = open_stream(c, "lua", "[-1, 0]", 60000);
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    bay_value_free(v);
    cr_assert_eq(bay_stream_cancel(s), 0);
    int rc;
    while ((rc = bay_stream_next(s, -1, &v, &err)) == 0 && v)
        bay_value_free(v);
    cr_assert_eq(rc, BAY_ECANCELED, "got %s: %s", bay_errname(rc), err.message);
    bay_stream_free(s);
    still_answers("lua");
}

Test(streams, a_host_that_goes_away_mid_stream_leaves_the_provider_serving)
{
    for (size_t i = 0; langs[i]; i++) {
        bay_conn *other = h_connect(&h, "leaver");
        bay_stream *s = open_stream(other, langs[i], "[-1, 0]", 60000);
        bay_value *v = NULL;
        bay_error err;
        cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s: %s", langs[i], err.message);
        bay_value_free(v);
        bay_close(other); /* the stream is still open: it fails with BAY_ECONN */
        int rc;
        while ((rc = bay_stream_next(s, -1, &v, &err)) == 0 && v)
            bay_value_free(v);
        cr_assert_eq(rc, BAY_ECONN, "%s: got %s: %s", langs[i], bay_errname(rc), err.message);
        bay_stream_free(s);
        still_answers(langs[i]);
    }
}

/* host_once answers host.once with "whole": a host provider that does not stream. */
static int host_once(const bay_value *args, bay_value **result, bay_error *err, void *user)
{
    *result = bay_str("whole");
    return 0;
}

Test(streams, a_provider_that_does_not_stream_answers_with_one_chunk)
{
    bay_conn *p = h_connect(&h, "one-shot");
    bay_error err;
    cr_assert_eq(bay_provide(p, "host.once", BAY_HANDLE, NULL, host_once, NULL, &err), 0, "%s", err.message);
    bay_stream *s = NULL;
    cr_assert_eq(bay_call_stream(c, "host.once", NULL, NULL, &s, &err), 0, "%s", err.message);
    char one[64];
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert_str_eq(one, "\"whole\"");
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert_str_eq(one, "END");
    bay_stream_free(s);
    cr_assert_eq(bay_call_stream(c, "no.such.point", NULL, NULL, &s, &err), 0, "%s", err.message);
    cr_assert_eq(next_json(s, one, sizeof one, &err), BAY_ENOENT, "an unknown point fails the stream");
    bay_stream_free(s);
    cr_assert_eq(bay_call_stream(c, "host.once", NULL, NULL, NULL, &err), BAY_EINVAL);
    cr_assert_eq(bay_stream_next(NULL, 0, NULL, &err), BAY_EINVAL);
    bay_stream_free(NULL);
    bay_close(p);
}

/* typed_stream streams name(args_json) to its end: its chunks as JSON, then "END" or the error's name and message. */
static void typed_stream(const char *name, const char *args_json, char *out, size_t len)
{
    bay_value *args = NULL;
    char why[200], one[700];
    cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0);
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_stream(c, name, args, NULL, &s, &err), 0, "%s", err.message);
    bay_value_free(args);
    out[0] = '\0';
    for (;;) {
        int rc = next_json(s, one, sizeof one, &err);
        if (rc)
            snprintf(one, sizeof one, "%s %s", bay_errname(rc), err.message);
        strncat(out, one, len - strlen(out) - 2);
        if (rc || strcmp(one, "END") == 0)
            break;
        strcat(out, " ");
    }
    bay_stream_free(s);
}

Test(streams, each_chunk_of_a_typed_stream_is_checked_as_an_item_of_its_result)
{
    char got[1024];
    typed_stream("typed.ints", "[3, 0]", got, sizeof got);
    cr_assert_str_eq(got, "0 1 2 END");
    typed_stream("typed.ints", "[2, 4]", got, sizeof got);
    cr_assert(strstr(got, "BAY_ETYPE \"typed.ints\": typed/c streamed chunk 1, which the types typed/c declared do not "
                     "allow: at [0]: expected integer, got bin"), "%s", got);
    typed_stream("typed.ints", "[-1, 0]", got, sizeof got);
    cr_assert(strncmp(got, "0 1 2 3 BAY_ETYPE", 17) == 0 && strstr(got, "expected at most 4 items, got chunk 5"), "%s",
              got);
    typed_stream("typed.ints", "[2, 0, \"last\"]", got, sizeof got);
    cr_assert(strstr(got, "0 1 BAY_ETYPE") && strstr(got, "chunk 3") && strstr(got, "expected integer, got str"),
              "the last value is checked as the last chunk: %s", got);
    typed_stream("typed.text", "[1, 0]", got, sizeof got);
    cr_assert(strstr(got, "BAY_ETYPE") && strstr(got, "the result's types allow no array"), "%s", got);

    bay_value *args = NULL, *res = NULL;
    char why[200];
    bay_error err;
    cr_assert_eq(bay_value_from_json("[5, 0]", &args, why, sizeof why), 0);
    cr_assert_eq(bay_call(c, "typed.ints", args, NULL, &res, &err), BAY_ETYPE, "a plain call's gathered chunks are "
                 "checked whole");
    cr_assert(strstr(err.message, "expected at most 4 items, got 5"), "%s", err.message);
    bay_value_free(args);
    still_answers("c");
}

/* The raw connection: a host speaking frames itself, as a hostile one would. */
static nng_socket raw_connect(void)
{
    char *url, *token;
    nng_socket s;
    bay_error err;
    cr_assert_eq(bay__wire_rendezvous(h.url, "host", "raw", 5000, &url, &token, &err), 0, "%s", err.message);
    cr_assert_eq(bay__wire_connect(url, "host", "raw", token, 5000, &s, NULL, &err), 0, "%s", err.message);
    free(url);
    free(token);
    return s;
}

/* raw_stream sends CALL id of conform.stream(args_json) at conform/c with window. */
static void raw_stream(nng_socket s, uint64_t id, const char *args_json, int64_t window)
{
    bay_value *args = NULL;
    char why[200];
    cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0);
    void *packed;
    size_t len;
    cr_assert_eq(bay_value_pack(args, &packed, &len), 0);
    bay__frame f = {.type = BAY_F_CALL, .id = id, .name = "conform.stream", .raw = packed, .raw_len = len,
                    .timeout_ms = 60000, .context = "conform/c", .window = window};
    cr_assert_eq(bay__wire_send(s, &f, 0), 0);
    free(packed);
    bay_value_free(args);
}

/* raw_next receives the next frame within timeout_ms: its type (0 when none came), and its value's int in *n. */
static int64_t raw_next(nng_socket s, int timeout_ms, int64_t *n, char *msg, size_t len)
{
    nng_msg *m;
    bay__frame f;
    bay_error err;
    if (bay__wire_recv(s, timeout_ms, &m, &f, &err) != 0)
        return 0;
    int64_t type = f.type;
    if (n)
        *n = f.value && f.value->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)f.value->via.u64 : -1;
    if (msg)
        snprintf(msg, len, "%s", f.type == BAY_F_ERROR ? f.message : "");
    bay__frame_release(&f);
    nng_msg_free(m);
    return type;
}

Test(streams, the_provider_sends_no_more_than_the_window_until_credit_comes)
{
    nng_socket s = raw_connect();
    raw_stream(s, 7, "[-1, 0]", 3);
    int64_t n;
    for (int64_t i = 0; i < 3; i++) {
        cr_assert_eq(raw_next(s, H_WAIT_MS, &n, NULL, 0), BAY_F_CHUNK);
        cr_assert_eq(n, i);
    }
    /* Only the absence of a frame shows the window holds: a short wait is the test itself. */
    cr_assert_eq(raw_next(s, 500, NULL, NULL, 0), 0, "a fourth chunk came without credit");
    bay__frame credit = {.type = BAY_F_CREDIT, .id = 7, .count = 2};
    cr_assert_eq(bay__wire_send(s, &credit, 0), 0);
    for (int64_t i = 3; i < 5; i++) {
        cr_assert_eq(raw_next(s, H_WAIT_MS, &n, NULL, 0), BAY_F_CHUNK);
        cr_assert_eq(n, i);
    }
    cr_assert_eq(raw_next(s, 500, NULL, NULL, 0), 0, "a sixth chunk came past the credit");
    bay__frame cancel = {.type = BAY_F_CANCEL, .id = 7, .code = BAY_ECANCELED};
    cr_assert_eq(bay__wire_send(s, &cancel, 0), 0);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, NULL, 0), BAY_F_ERROR);
    nng_close(s);
    still_answers("c");
}

Test(streams, hostile_windows_and_credits_are_refused)
{
    nng_socket s = raw_connect();
    char msg[512];
    raw_stream(s, 0, "[1, 0]", 4); /* no request has id 0: its CREDITs and CANCEL could name no call */
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, msg, sizeof msg), BAY_F_ERROR);
    cr_assert(strstr(msg, "a CALL's id is 1 or more"), "%s", msg);
    raw_stream(s, 8, "[1, 0]", -1);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, msg, sizeof msg), BAY_F_ERROR);
    cr_assert(strstr(msg, "a stream's window is 1 to 4096 chunks, not -1"), "%s", msg);
    raw_stream(s, 9, "[1, 0]", 1 << 20);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, msg, sizeof msg), BAY_F_ERROR);
    cr_assert(strstr(msg, "not 1048576"), "%s", msg);

    raw_stream(s, 10, "[-1, 0]", 1);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, NULL, 0), BAY_F_CHUNK);
    bay__frame credit = {.type = BAY_F_CREDIT, .id = 10, .count = 1 << 30};
    cr_assert_eq(bay__wire_send(s, &credit, 0), 0);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, msg, sizeof msg), BAY_F_ERROR);
    cr_assert(strstr(msg, "would let the stream's window pass 4096"), "%s", msg);

    raw_stream(s, 11, "[-1, 0]", 1);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, NULL, 0), BAY_F_CHUNK);
    credit = (bay__frame){.type = BAY_F_CREDIT, .id = 11, .count = -5};
    cr_assert_eq(bay__wire_send(s, &credit, 0), 0);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, msg, sizeof msg), BAY_F_ERROR);
    cr_assert(strstr(msg, "or is not positive"), "%s", msg);

    credit = (bay__frame){.type = BAY_F_CREDIT, .id = 999, .count = 5}; /* no such stream: ignored */
    cr_assert_eq(bay__wire_send(s, &credit, 0), 0);
    /* A host's CHUNK for a call it does not serve is dropped too. */
    bay__frame chunk = {.type = BAY_F_CHUNK, .id = 12345};
    cr_assert_eq(bay__wire_send(s, &chunk, 0), 0);
    nng_close(s);
    still_answers("c");
}

/* send_int sends i as a chunk of s's input, waiting as long as the call may. */
static void send_int(bay_stream *s, int64_t i)
{
    bay_value *v = bay_int(i);
    bay_error err;
    cr_assert_eq(bay_stream_send(s, v, -1, &err), 0, "chunk %lld: %s", (long long)i, err.message);
    bay_value_free(v);
}

Test(streams, a_host_uploads_its_input_past_many_windows)
{
    bay_stream *s = h_upload(c, "c", "sum", 60000);
    for (int64_t i = 0; i < 1000; i++) /* 1,000 chunks: the provider's credit comes back as it takes them */
        send_int(s, i);
    bay_error err;
    cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s", err.message);
    cr_assert_eq(bay_stream_send_end(s, &err), BAY_EINVAL, "an input ends once");
    char one[128];
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert(strstr(one, "\"chunks\":1000") && strstr(one, "\"sum\":499500"), "%s", one);
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert_str_eq(one, "END");
    bay_stream_free(s);
}

Test(streams, input_and_answer_stream_both_ways_at_once)
{
    bay_stream *s = h_upload(c, "c", "echo", 60000);
    char one[64], want[32];
    bay_error err;
    for (int64_t i = 0; i < 300; i++) {
        send_int(s, i * 7);
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
        snprintf(want, sizeof want, "%lld", (long long)(i * 7));
        cr_assert_str_eq(one, want, "echo %lld", (long long)i);
    }
    cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s", err.message);
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert_str_eq(one, "END");
    bay_stream_free(s);
}

Test(streams, input_to_a_provider_that_already_answered_is_refused)
{
    bay_stream *s = h_upload(c, "c", "early", 20000);
    send_int(s, 1);
    char one[64];
    bay_error err;
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert_str_eq(one, "\"early\"");
    cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s", err.message);
    cr_assert_str_eq(one, "END");
    bay_value *v = bay_int(2);
    cr_assert_eq(bay_stream_send(s, v, -1, &err), BAY_ESTATE);
    cr_assert(strstr(err.message, "ended before its input did"), "%s", err.message);
    bay_value_free(v);
    bay_stream_free(s);

    bay_stream *plain = open_stream(c, "c", "[1, 0]", 20000); /* a stream that takes no input */
    v = bay_int(1);
    cr_assert_eq(bay_stream_send(plain, v, 0, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "takes no input: start it with bay_call_upload"), "%s", err.message);
    cr_assert_eq(bay_stream_send_end(plain, &err), BAY_EINVAL);
    bay_value_free(v);
    bay_stream_free(plain);

    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("sum"));
    cr_assert_eq(bay_call(c, "conform.upload", args, &(bay_call_opts){.context = "conform/c"}, &res, &err), BAY_EINVAL,
                 "a provider that reads input of a call without any gets an error");
    cr_assert(strstr(err.message, "its caller sends no input"), "%s", err.message);
    bay_value_free(args);
}

Test(streams, an_upload_abandoned_or_never_ended_stops_its_provider)
{
    bay_stream *s = h_upload(c, "c", "sum", 60000);
    for (int64_t i = 0; i < 10; i++)
        send_int(s, i);
    bay_stream_free(s); /* abandoned: the provider waits in bay_call_receive, then is cancelled */
    still_answers("c");

    long long t0 = h_now_ms();
    s = h_upload(c, "c", "sum", 800);
    send_int(s, 1); /* and no END: the deadline ends it */
    char one[64];
    bay_error err;
    cr_assert_eq(next_json(s, one, sizeof one, &err), BAY_ETIMEDOUT, "%s", one);
    cr_assert_lt(h_now_ms() - t0, 15000);
    bay_stream_free(s);
    still_answers("c");
}

/* typed_upload uploads the chunks of chunks_json (an array) to typed.sum("sum") and ends its input; out gets its
 * answer as JSON, or the error's name and message. */
static void typed_upload(const char *chunks_json, char *out, size_t len)
{
    bay_value *args = bay_array(), *chunks = NULL;
    bay_array_push(args, bay_str("sum"));
    cr_assert_eq(bay_value_from_json(chunks_json, &chunks, NULL, 0), 0, "%s", chunks_json);
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_upload(c, "typed.sum", args, &(bay_call_opts){.timeout_ms = 20000}, &s, &err), 0, "%s",
                 err.message);
    /* A chunk plugbayd refuses ends the call: what is sent after it fails, and the answer says why. */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < bay_value_len(chunks); i++)
        rc = bay_stream_send(s, bay_array_get(chunks, i), -1, &err);
    if (rc == 0)
        rc = bay_stream_send_end(s, &err);
    cr_assert(rc == 0 || rc == BAY_ETYPE || rc == BAY_ESTATE, "%s: %s", bay_errname(rc), err.message);
    rc = next_json(s, out, len, &err);
    if (rc)
        snprintf(out, len, "%s %s", bay_errname(rc), err.message);
    bay_stream_free(s);
    bay_value_free(chunks);
    bay_value_free(args);
}

Test(streams, each_chunk_of_a_typed_upload_is_checked_as_an_item_of_its_input)
{
    char got[1024];
    typed_upload("[4, 5, 6]", got, sizeof got);
    cr_assert(strstr(got, "\"chunks\":3") && strstr(got, "\"sum\":15"), "%s", got);
    typed_upload("[1, \"two\", 3]", got, sizeof got);
    cr_assert(strstr(got, "BAY_ETYPE \"typed.sum\": input chunk 2 does not fit the types typed/c declared: at [1]: "
                          "expected integer, got str"), "%s", got);
    typed_upload("[-1]", got, sizeof got);
    cr_assert(strstr(got, "BAY_ETYPE \"typed.sum\": input chunk 1 does not fit") && strstr(got, "at [0]"), "%s", got);
    typed_upload("[1, 2, 3, 4, 5, 6]", got, sizeof got);
    cr_assert(strstr(got, "BAY_ETYPE \"typed.sum\": input chunk 6 does not fit"), "%s", got);
    /* Each refusal stopped the provider, which serves the next upload; the point's arguments stay untyped. */
    typed_upload("[0, 1, 2, 3, 4]", got, sizeof got);
    cr_assert(strstr(got, "\"chunks\":5") && strstr(got, "\"sum\":10"), "%s", got);
    char state[64], reason[512];
    h_plugin_state(c, "typed/c", state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "loaded");
}

Test(streams, every_language_takes_a_hosts_input_sums_echoes_and_leaves_it_early)
{
    for (size_t i = 0; langs[i]; i++) {
        char one[128], want[32];
        bay_error err;
        bay_stream *s = h_upload(c, langs[i], "sum", 60000);
        for (int64_t k = 0; k < 200; k++)
            send_int(s, k);
        cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert(strstr(one, "\"chunks\":200") && strstr(one, "\"sum\":19900") && strstr(one, "\"bytes\":0"),
                  "%s: %s", langs[i], one);
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0);
        cr_assert_str_eq(one, "END", "%s", langs[i]);
        bay_stream_free(s);

        s = h_upload(c, langs[i], "echo", 60000);
        for (int64_t k = 0; k < 100; k++) {
            send_int(s, k * 7);
            cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s: %s", langs[i], err.message);
            snprintf(want, sizeof want, "%lld", (long long)(k * 7));
            cr_assert_str_eq(one, want, "%s: echo %lld", langs[i], (long long)k);
        }
        cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0);
        cr_assert_str_eq(one, "END", "%s", langs[i]);
        bay_stream_free(s);

        s = h_upload(c, langs[i], "early", 20000);
        send_int(s, 1);
        cr_assert_eq(next_json(s, one, sizeof one, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_str_eq(one, "\"early\"", "%s", langs[i]);
        bay_stream_free(s);
    }
}

Test(streams, every_language_refuses_input_it_was_not_sent_and_survives_an_abandoned_upload)
{
    for (size_t i = 0; langs[i]; i++) {
        char ctx[64], one[64];
        snprintf(ctx, sizeof ctx, "conform/%s", langs[i]);
        bay_value *args = bay_array(), *res = NULL;
        bay_array_push(args, bay_str("sum"));
        bay_error err;
        cr_assert_eq(bay_call(c, "conform.upload", args, &(bay_call_opts){.context = ctx}, &res, &err), BAY_EINVAL,
                     "%s", langs[i]);
        cr_assert(strstr(err.message, "its caller sends no input"), "%s: %s", langs[i], err.message);
        bay_value_free(args);

        bay_stream *s = h_upload(c, langs[i], "sum", 60000);
        for (int64_t k = 0; k < 10; k++)
            send_int(s, k);
        bay_stream_free(s); /* abandoned */
        still_answers(langs[i]);

        s = h_upload(c, langs[i], "sum", 800); /* no END: the deadline ends it */
        send_int(s, 1);
        cr_assert_eq(next_json(s, one, sizeof one, &err), BAY_ETIMEDOUT, "%s: %s", langs[i], one);
        bay_stream_free(s);
        still_answers(langs[i]);
    }
}

/* raw_upload sends CALL id of name("sum") at conform/c with input flag input. */
static void raw_upload(nng_socket s, uint64_t id, const char *name, int64_t input)
{
    const unsigned char args[] = {0x91, 0xa3, 's', 'u', 'm'}; /* ["sum"] */
    bay__frame f = {.type = BAY_F_CALL, .id = id, .name = name, .raw = args, .raw_len = sizeof args,
                    .timeout_ms = 60000, .context = "conform/c", .input = input};
    cr_assert_eq(bay__wire_send(s, &f, 0), 0);
}

/* raw_refused expects the next frame to be an ERROR answering id whose message holds needle. */
static void raw_refused(nng_socket s, uint64_t id, const char *needle)
{
    nng_msg *m;
    bay__frame f;
    bay_error err;
    cr_assert_eq(bay__wire_recv(s, H_WAIT_MS, &m, &f, &err), 0, "no answer to %llu: %s", (unsigned long long)id,
                 err.message);
    cr_assert(f.type == BAY_F_ERROR && f.id == id && strstr(f.message, needle), "expected %llu refused with \"%s\", "
              "got %s of %llu: %s", (unsigned long long)id, needle, bay__frame_type_name(f.type),
              (unsigned long long)f.id, f.type == BAY_F_ERROR ? f.message : "");
    bay__frame_release(&f);
    nng_msg_free(m);
}

Test(streams, hostile_input_is_refused)
{
    nng_socket s = raw_connect();
    raw_upload(s, 20, "conform.upload", 2);
    raw_refused(s, 20, "input is 1 (the caller sends its input as a stream) or left out, not 2");

    /* conform/c's worker streams call 21 and waits for credit that never comes, so it starts no other call: the
     * uploads below get no credit and are never answered, and each refusal does not depend on timing. */
    raw_stream(s, 21, "[-1, 0]", 1);
    cr_assert_eq(raw_next(s, H_WAIT_MS, NULL, NULL, 0), BAY_F_CHUNK);

    raw_upload(s, 22, "conform.upload", 1);
    bay__frame end = {.type = BAY_F_END, .id = 22};
    cr_assert_eq(bay__wire_send(s, &end, 0), 0);
    cr_assert_eq(bay__wire_send(s, &end, 0), 0);
    raw_refused(s, 22, "the caller ended input twice");

    raw_upload(s, 23, "conform.upload", 1);
    const unsigned char one[] = {0x01};
    bay__frame chunk = {.type = BAY_F_CHUNK, .id = 23, .raw = one, .raw_len = 1};
    cr_assert_eq(bay__wire_send(s, &chunk, 0), 0); /* before any credit */
    raw_refused(s, 23, "more input than its provider took");

    chunk.id = 21; /* a stream without input: a CHUNK from its caller is refused */
    cr_assert_eq(bay__wire_send(s, &chunk, 0), 0);
    raw_refused(s, 21, "to a call it did not say takes input");

    raw_upload(s, 24, "conform.filter", 1); /* a filter takes no input */
    raw_refused(s, 24, "only a handle's call takes input");
    nng_close(s);
    still_answers("c");
}
