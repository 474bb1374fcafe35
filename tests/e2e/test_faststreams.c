/* tests/e2e/test_faststreams.c — streams on fast channels: answers read straight from the worker's ring and uploads
 * written to it (shown while plugbayd is stopped) in every language, chunks larger than the ring, a reader that
 * pauses past the worker's send limit, an uploader that finds no room, a stream or upload abandoned, cancelled, cut by
 * its deadline, or whose worker is killed; after each, the channel serves the next call; calls made while a stream
 * holds the channel go through plugbayd; a stream abandoned mid-chunk costs the channel, and plugbayd grants a new
 * one in its place. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static const char *const langs[] = {"c", "lua", "python", "wasm", NULL};
static const char *const ids[] = {"conform/c", "conform/lua", "conform/python", "conform/wasm", NULL};

/* open_stream starts conform.stream(args_json) at lang's plugin within timeout_ms (0: the default). */
static bay_stream *open_stream(const char *lang, const char *args_json, int timeout_ms)
{
    char ctx[64], why[200];
    snprintf(ctx, sizeof ctx, "conform/%s", lang);
    bay_value *args = NULL;
    cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0, "%s", why);
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_stream(c, "conform.stream", args, &(bay_call_opts){.timeout_ms = timeout_ms, .context = ctx},
                                 &s, &err), 0, "%s: %s", lang, err.message);
    bay_value_free(args);
    return s;
}

/* read_ints reads n chunks of s, expecting 0 .. n-1, then its end. */
static void read_ints(bay_stream *s, const char *lang, int64_t n)
{
    bay_error err;
    for (int64_t i = 0; i < n; i++) {
        bay_value *v = NULL;
        cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s: chunk %lld: %s", lang, (long long)i, err.message);
        cr_assert(v && bay_value_int(v) == i, "%s: chunk %lld", lang, (long long)i);
        bay_value_free(v);
    }
    bay_value *v = NULL;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s: %s", lang, err.message);
    cr_assert_null(v, "%s: no end after %lld chunks", lang, (long long)n);
}

/* stream_ints streams conform.stream([n, 0]) at lang's plugin and reads it whole. */
static void stream_ints(const char *lang, int64_t n)
{
    char args[64];
    snprintf(args, sizeof args, "[%lld, 0]", (long long)n);
    bay_stream *s = open_stream(lang, args, 20000);
    read_ints(s, lang, n);
    bay_stream_free(s);
}

/* echo calls conform.echo("x") at conform/c and expects "x". */
static void echo(void)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("x"));
    bay_error err;
    cr_assert_eq(bay_call(c, "conform.echo", args, &(bay_call_opts){.timeout_ms = 10000, .context = "conform/c"},
                          &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_array_get(res, 0), NULL) ? bay_value_str(bay_array_get(res, 0), NULL)
                                                                 : bay_value_str(res, NULL), "x");
    bay_value_free(args);
    bay_value_free(res);
}

/* send_chunk sends v (freed here) as the next chunk of s's input, waiting as long as the call may. */
static void send_chunk(bay_stream *s, bay_value *v, const char *lang)
{
    bay_error err;
    cr_assert_eq(bay_stream_send(s, v, -1, &err), 0, "%s: %s", lang, err.message);
    bay_value_free(v);
}

/* next_chunk reads the next chunk of s (NULL: its end), which must come. */
static bay_value *next_chunk(bay_stream *s, const char *lang)
{
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s: %s", lang, err.message);
    return v;
}

/* upload_sum uploads n chunks to conform.upload("sum") at lang's plugin, each the integer i or, with bytes > 0, a
 * string of that many bytes, and checks the sum it answers. */
static void upload_sum(const char *lang, int64_t n, size_t bytes)
{
    bay_stream *s = h_upload(c, lang, "sum", 30000);
    char *text = bytes ? malloc(bytes) : NULL;
    for (int64_t i = 0; i < n; i++) {
        if (text)
            memset(text, 'a' + (int)(i % 26), bytes);
        send_chunk(s, text ? bay_bin(text, bytes) : bay_int(i), lang);
    }
    free(text);
    bay_error err;
    cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s: %s", lang, err.message);
    bay_value *v = next_chunk(s, lang);
    cr_assert(v && bay_value_int(bay_map_get(v, "chunks")) == n, "%s: chunks", lang);
    cr_assert_eq(bay_value_int(bay_map_get(v, "sum")), bytes ? 0 : n * (n - 1) / 2, "%s: sum", lang);
    cr_assert_eq(bay_value_int(bay_map_get(v, "bytes")), (int64_t)bytes * n, "%s: bytes", lang);
    bay_value_free(v);
    cr_assert_null(next_chunk(s, lang), "%s: no end after the answer", lang);
    bay_stream_free(s);
}

/* frozen stops plugbayd (SIGSTOP) or lets it go on: what works meanwhile did not pass through it. */
static void frozen(bool stop)
{
    cr_assert_eq(kill(h.broker, stop ? SIGSTOP : SIGCONT), 0);
}

static void start(void)
{
    setenv("PLUGBAY_FASTPATH", "1", 1);
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-faststreams");
    h_wait_loaded(c, ids);
    for (size_t i = 0; langs[i]; i++) { /* each route's channel is granted by its first stream */
        stream_ints(langs[i], 2);
        upload_sum(langs[i], 2, 0);
    }
    echo();
}

static void stop(void)
{
    if (h.broker)
        kill(h.broker, SIGCONT);
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(faststreams, .init = start, .fini = stop, .timeout = 180);

Test(faststreams, every_language_streams_through_the_ring_while_plugbayd_is_stopped)
{
    frozen(true);
    for (size_t i = 0; langs[i]; i++) {
        stream_ints(langs[i], 500);
    }
    echo();
    frozen(false);
}

Test(faststreams, every_language_takes_an_upload_from_the_ring_while_plugbayd_is_stopped)
{
    frozen(true);
    for (size_t i = 0; langs[i]; i++) {
        upload_sum(langs[i], 500, 0);
        bay_stream *s = h_upload(c, langs[i], "echo", 30000); /* both ways at once */
        for (int64_t k = 0; k < 200; k++) {
            send_chunk(s, bay_int(k * 3), langs[i]);
            bay_value *v = next_chunk(s, langs[i]);
            cr_assert(v && bay_value_int(v) == k * 3, "%s: echo %lld", langs[i], (long long)k);
            bay_value_free(v);
        }
        bay_error err;
        cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_null(next_chunk(s, langs[i]), "%s", langs[i]);
        bay_stream_free(s);
        s = h_upload(c, langs[i], "early", 30000); /* answers after one chunk, leaving the rest in the ring */
        int rc = 0;
        for (int64_t k = 0; k < 50 && rc == 0; k++) { /* until the worker says its call ended */
            bay_value *v = bay_int(k);
            rc = bay_stream_send(s, v, -1, &err);
            bay_value_free(v);
        }
        cr_assert(rc == 0 || rc == BAY_ESTATE, "%s: %s", langs[i], err.message);
        bay_value *v = next_chunk(s, langs[i]);
        cr_assert_str_eq(bay_value_str(v, NULL), "early", "%s", langs[i]);
        bay_value_free(v);
        cr_assert_null(next_chunk(s, langs[i]), "%s", langs[i]);
        v = bay_int(1);
        cr_assert_eq(bay_stream_send(s, v, -1, &err), BAY_ESTATE, "%s", langs[i]);
        cr_assert(strstr(err.message, "ended before its input did"), "%s: %s", langs[i], err.message);
        bay_value_free(v);
        cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s: nothing waits for the end: nothing to do", langs[i]);
        bay_stream_free(s);
        upload_sum(langs[i], 3, 0); /* the worker skipped what was left */
    }
    echo();
    frozen(false);
}

Test(faststreams, upload_chunks_larger_than_the_ring_go_whole)
{
    frozen(true);
    upload_sum("c", 6, 100000); /* 100 kB chunks through a 32 KiB ring */
    upload_sum("python", 3, 100000);
    echo();
    frozen(false);
}

Test(faststreams, an_upload_abandoned_mid_input_leaves_the_channel_to_the_next_call)
{
    for (int k = 0; k < 5; k++) {
        bay_stream *s = h_upload(c, "c", "sum", 30000);
        for (int64_t i = 0; i < 10; i++)
            send_chunk(s, bay_int(i), "c");
        frozen(true);
        bay_stream_free(s); /* the worker waits for more: the CANCEL behind the input tells it to stop */
        echo(); /* right behind it in the ring: never taken for input */
        upload_sum("c", 5, 0);
        frozen(false);
    }
    char state[64], reason[512];
    h_plugin_state(c, "conform/c", state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "loaded");
    cr_assert(!h_log_contains(&h, "closing the fast channel"), "no channel was dropped");
}

Test(faststreams, an_uploader_that_finds_no_room_is_told_and_goes_on_once_the_worker_reads)
{
    /* The worker echoes each chunk; nobody reads the echoes, so it stops once its ring to the host is full, and
     * takes no more input: the host's ring to it fills in turn. */
    bay_stream *s = h_upload(c, "c", "echo", 60000);
    char text[1000];
    memset(text, 'e', sizeof text);
    bay_value *chunk = bay_strn(text, sizeof text);
    bay_error err;
    int sent = 0, rc;
    while ((rc = bay_stream_send(s, chunk, 200, &err)) == 0 && sent < 1000)
        sent++;
    cr_assert_eq(rc, BAY_EPENDING, "got %s after %d chunks: %s", bay_errname(rc), sent, err.message);
    cr_assert(strstr(err.message, "took no more input within 200 ms"), "%s", err.message);
    cr_assert(sent > 10 && sent < 100, "%d chunks of 1 kB filled two 32 KiB rings", sent);
    for (int i = 0; i < sent; i++) { /* reading makes room both ways */
        bay_value *v = next_chunk(s, "c");
        size_t len = 0;
        cr_assert(bay_value_str(v, &len) && len == sizeof text, "echo %d", i);
        bay_value_free(v);
    }
    cr_assert_eq(bay_stream_send(s, chunk, 5000, &err), 0, "%s", err.message);
    bay_value_free(next_chunk(s, "c"));
    cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s", err.message);
    cr_assert_null(next_chunk(s, "c"));
    bay_value_free(chunk);
    bay_stream_free(s);
    frozen(true);
    echo();
    frozen(false);
}

Test(faststreams, chunks_larger_than_the_ring_come_whole)
{
    frozen(true);
    bay_stream *s = open_stream("c", "[12, 100000]", 20000); /* 100 kB chunks through a 32 KiB ring */
    bay_error err;
    for (int i = 0; i < 12; i++) {
        bay_value *v = NULL;
        cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "chunk %d: %s", i, err.message);
        size_t len = 0;
        const unsigned char *b = (const unsigned char *)bay_value_str(v, &len);
        cr_assert(b && len == 100000 && b[0] == i && b[len - 1] == i, "chunk %d: %zu bytes", i, len);
        bay_value_free(v);
    }
    bay_value *v = NULL;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert_null(v);
    bay_stream_free(s);
    echo();
    frozen(false);
}

Test(faststreams, a_reader_that_pauses_longer_than_the_workers_send_limit_keeps_its_channel)
{
    bay_stream *s = open_stream("c", "[40, 4096]", 30000); /* 160 kB: the ring fills and the worker waits */
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    bay_value_free(v);
    /* The pause is the test: a worker gives an answer 2 s (BAY_FAST_SEND_MS) to find room, a chunk its whole call. */
    struct timespec pause = {3, 0};
    nanosleep(&pause, NULL);
    for (int i = 1; i < 40; i++) {
        v = NULL;
        cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "chunk %d: %s", i, err.message);
        size_t len = 0;
        const unsigned char *b = (const unsigned char *)bay_value_str(v, &len);
        cr_assert(b && len == 4096 && b[0] == i, "chunk %d", i);
        bay_value_free(v);
    }
    v = NULL;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert_null(v);
    bay_stream_free(s);
    frozen(true); /* the channel still serves */
    stream_ints("c", 3);
    frozen(false);
}

Test(faststreams, an_abandoned_stream_leaves_the_channel_to_the_next_call)
{
    for (int k = 0; k < 3; k++) {
        bay_stream *s = open_stream("c", "[-1, 1000]", 30000); /* never ends: the ring fills behind the reader */
        bay_value *v = NULL;
        bay_error err;
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
            bay_value_free(v);
            v = NULL;
        }
        bay_stream_free(s); /* abandoned: the worker is told to stop, the next call skips what is left */
        frozen(true);
        echo();
        stream_ints("c", 5);
        frozen(false);
    }
}

/* waits_for_room tells whether the main thread of process *(pid_t *)pid waits on a futex: in a stream's call,
 * for room in the ring. */
static bool waits_for_room(void *pid)
{
    long nr = h_main_thread_syscall(*(pid_t *)pid);
    return nr == 202 || nr == 449; /* futex, futex_waitv */
}

Test(faststreams, a_stream_abandoned_mid_chunk_costs_its_channel_not_a_call)
{
    bay_stream *s = open_stream("c", "[-1, 100000]", 30000); /* 100 kB chunks through a 32 KiB ring */
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    bay_value_free(v);
    pid_t pid = h_worker_pid(c, "conform/c");
    cr_assert(h_wait_until(waits_for_room, &pid, H_WAIT_MS), "the worker never filled the ring");
    bay_stream_free(s);
    /* The worker was halfway through writing the next chunk when the cancel came: the ring cannot be read past
     * it, so the worker drops the channel, and only this host hears of it. */
    cr_assert(h_wait_log(&h, "closing the fast channel of host pid"), "the worker drops the channel");
    echo(); /* the channel is found closed: through plugbayd */
    stream_ints("c", 5); /* the route asks again: plugbayd grants a new channel in place of the dead one */
    echo();
    frozen(true); /* the new channel serves both routes */
    echo();
    stream_ints("c", 5);
    frozen(false);

    /* A host may replace only a grant of its own, by its token: another token leaves the grant as it is. */
    bay_value *args = NULL, *grant = NULL, *again = NULL;
    cr_assert_eq(bay_value_from_json("{\"name\": \"conform.echo\", \"context\": \"conform/c\"}", &args, NULL, 0), 0);
    cr_assert_eq(bay_command(c, "channel", args, 10000, &grant, &err), 0, "%s", err.message);
    bay_map_set(args, "replace", bay_str("0123456789abcdef0123456789abcdef"));
    cr_assert_eq(bay_command(c, "channel", args, 10000, &again, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(again, "token"), NULL), bay_value_str(bay_map_get(grant, "token"), NULL));
    bay_map_set(args, "replace", bay_int(5));
    cr_assert_eq(bay_command(c, "channel", args, 10000, NULL, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"replace\": the token of a channel its worker closed"), "%s", err.message);
    bay_value_free(args);
    bay_value_free(grant);
    bay_value_free(again);
    echo();
}

Test(faststreams, calls_made_while_a_stream_holds_the_channel_go_through_plugbayd)
{
    /* The worker wrote the whole answer to the ring; the stream holds the channel until it is read. A call or a
     * stream the same thread makes meanwhile must not wait for the channel: it goes through plugbayd. */
    bay_stream *s = open_stream("c", "[5, 0]", 20000);
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert(v && bay_value_int(v) == 0);
    bay_value_free(v);
    echo();
    stream_ints("c", 3);
    frozen(true); /* the rest comes from the ring */
    for (int64_t i = 1; i < 5; i++) {
        v = NULL;
        cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "chunk %lld: %s", (long long)i, err.message);
        cr_assert(v && bay_value_int(v) == i, "chunk %lld", (long long)i);
        bay_value_free(v);
    }
    v = NULL;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert_null(v);
    bay_stream_free(s);
    echo(); /* the channel is free again: fast while plugbayd is stopped */
    frozen(false);
}

Test(faststreams, a_cancelled_stream_ends_with_ecanceled_and_the_channel_serves_on)
{
    bay_stream *s = open_stream("c", "[-1, 0]", 30000);
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    bay_value_free(v);
    cr_assert_eq(bay_stream_cancel(s), 0);
    v = NULL;
    int rc = bay_stream_next(s, -1, &v, &err);
    cr_assert_eq(rc, BAY_ECANCELED, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_null(v);
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), BAY_ECANCELED, "the end repeats");
    bay_stream_free(s);
    frozen(true);
    echo();
    frozen(false);
}

/* A thread that cancels a stream another thread waits on. */
static void *cancel_later(void *arg)
{
    struct timespec t = {0, 300 * 1000000};
    nanosleep(&t, NULL);
    bay_stream_cancel(arg);
    return NULL;
}

Test(faststreams, a_cancel_from_another_thread_ends_a_wait_for_a_chunk)
{
    bay_stream *s = open_stream("c", "[-1, 8000000]", 30000); /* 8 MB chunks: the reader waits on each */
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, s);
    long long t0 = h_now_ms();
    int rc;
    bay_error err;
    do {
        bay_value *v = NULL;
        rc = bay_stream_next(s, -1, &v, &err);
        bay_value_free(v);
    } while (rc == 0);
    pthread_join(t, NULL);
    cr_assert_eq(rc, BAY_ECANCELED, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(h_now_ms() - t0 < 20000, "the cancel took %lld ms", h_now_ms() - t0);
    bay_stream_free(s);
    echo();
}

Test(faststreams, a_stream_that_never_ends_is_cut_at_its_deadline)
{
    long long t0 = h_now_ms();
    bay_stream *s = open_stream("c", "[-1, 0]", 800);
    int rc;
    bay_error err;
    int64_t chunks = 0;
    do {
        bay_value *v = NULL;
        rc = bay_stream_next(s, -1, &v, &err);
        chunks += v != NULL;
        bay_value_free(v);
    } while (rc == 0);
    cr_assert_eq(rc, BAY_ETIMEDOUT, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "before the call's deadline"), "%s", err.message);
    cr_assert(chunks > 0);
    cr_assert(h_now_ms() - t0 < 15000, "took %lld ms", h_now_ms() - t0);
    bay_stream_free(s);
    frozen(true);
    echo();
    frozen(false);
}

Test(faststreams, a_worker_killed_during_a_stream_is_a_crash_and_its_restart_streams_again)
{
    bay_stream *s = open_stream("c", "[-1, 0]", 30000);
    bay_value *v = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    bay_value_free(v);
    pid_t pid = h_worker_pid(c, "conform/c");
    cr_assert(pid > 0);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int rc;
    do {
        v = NULL;
        rc = bay_stream_next(s, -1, &v, &err);
        bay_value_free(v);
    } while (rc == 0);
    cr_assert_eq(rc, BAY_ECRASHED, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "conform/c");
    bay_stream_free(s);
    cr_assert(h_wait_state(c, "conform/c", "loaded", H_WAIT_MS));
    stream_ints("c", 4);
}

Test(faststreams, closing_the_connection_ends_a_stream_it_had_while_chunks_keep_coming)
{
    bay_conn *other = h_connect(&h, "stream-leaver");
    bay_value *args = NULL;
    cr_assert_eq(bay_value_from_json("[-1, 0]", &args, NULL, 0), 0);
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_stream(other, "conform.stream", args, &(bay_call_opts){.timeout_ms = 60000,
                                 .context = "conform/c"}, &s, &err), 0, "%s", err.message);
    bay_value_free(args);
    bay_value *v = NULL;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    bay_value_free(v);
    bay_close(other); /* the stream is still one of its handles: the connection goes with it */
    /* The worker keeps the ring full meanwhile: the stream ends at the next read all the same, never waiting. */
    v = NULL;
    int rc = bay_stream_next(s, -1, &v, &err);
    cr_assert_null(v, "a chunk came after bay_close");
    cr_assert_eq(rc, BAY_ECONN, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "closed by bay_close"), "%s", err.message);
    bay_stream_free(s);
    echo();
}
