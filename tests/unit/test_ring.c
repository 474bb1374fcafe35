/* tests/unit/test_ring.c — the fast path's shared-memory rings: frames, streaming, deadlines and hostile peers. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/error.h>

#include "ring.h"

static void *mem;
static bay__ring host_in, host_out, worker_in, worker_out;

static void setup(void)
{
    mem = aligned_alloc(4096, BAY_CHAN_SIZE);
    memset(mem, 0, BAY_CHAN_SIZE);
    bay__chan_init(mem, 1234);
    bay__chan_rings(mem, false, &host_in, &host_out);
    bay__chan_rings(mem, true, &worker_in, &worker_out);
}

static void teardown(void)
{
    free(mem);
}

TestSuite(ring, .init = setup, .fini = teardown, .timeout = 30);

static bay__ring_wait within_ms(int ms)
{
    return (bay__ring_wait){.until_ns = bay__now_ns() + ms * 1000000LL};
}

Test(ring, a_frame_crosses_unchanged)
{
    const unsigned char args[] = {0x91, 0xa5, 'w', 'o', 'r', 'l', 'd'};
    bay__frame f = {.type = BAY_F_CALL, .id = 7, .name = "greet", .raw = args, .raw_len = sizeof args,
                   .timeout_ms = 100};
    bay__ring_wait w = within_ms(1000);
    cr_assert_eq(bay__ring_write_frame(&host_out, &f, &w), 0);
    void *buf;
    size_t len;
    cr_assert_eq(bay__ring_read_frame(&worker_in, BAY_FRAME_MAX, &buf, &len, &w), 0);
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(buf, len, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.type, BAY_F_CALL);
    cr_assert_eq(d.id, 7);
    cr_assert_str_eq(d.name, "greet");
    cr_assert_eq(bay__ring_consumed(&host_out), host_out.pos, "the host sees the worker took the whole frame");
    bay__frame_release(&d);
    free(buf);
}

struct reader {
    size_t len;
    unsigned char *got;
    int rc;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    bay__spin spin = {0};
    bay__ring_wait w = within_ms(10000);
    w.spin = &spin;
    r->rc = bay__ring_read(&worker_in, r->got, r->len, &w);
    return NULL;
}

static void *read_one_frame(void *arg)
{
    struct reader *r = arg;
    bay__ring_wait w = within_ms(10000);
    void *buf = NULL;
    r->rc = bay__ring_read_frame(&worker_in, BAY_FRAME_MAX, &buf, &r->len, &w);
    r->got = buf;
    return NULL;
}

Test(ring, data_larger_than_the_ring_streams_through_while_the_peer_reads)
{
    size_t len = 5 * BAY_RING_CAP + 123;
    unsigned char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    struct reader r = {len, malloc(len), -1};
    pthread_t t;
    pthread_create(&t, NULL, read_all, &r);
    bay__ring_wait w = within_ms(10000);
    cr_assert_eq(bay__ring_write(&host_out, data, len, &w), 0);
    pthread_join(t, NULL);
    cr_assert_eq(r.rc, 0);
    cr_assert(memcmp(data, r.got, len) == 0);
    free(data);
    free(r.got);
}

Test(ring, a_reader_without_data_times_out_at_its_deadline)
{
    char b;
    int64_t t0 = bay__now_ns();
    bay__ring_wait w = within_ms(50);
    cr_assert_eq(bay__ring_read(&worker_in, &b, 1, &w), BAY_ETIMEDOUT);
    int64_t took_ms = (bay__now_ns() - t0) / 1000000;
    cr_assert(took_ms >= 50 && took_ms < 1000, "waited %lld ms for a 50 ms deadline", (long long)took_ms);
}

static int peer_gone(void *arg)
{
    return ++*(int *)arg >= 3 ? BAY_ECRASHED : 0;
}

Test(ring, a_dead_peer_ends_the_wait_with_the_liveness_code)
{
    char b;
    int asked = 0;
    bay__ring_wait w = {.alive = peer_gone, .arg = &asked};
    cr_assert_eq(bay__ring_read(&worker_in, &b, 1, &w), BAY_ECRASHED);
    cr_assert_eq(asked, 3);
}

Test(ring, a_writer_to_a_full_ring_times_out)
{
    static unsigned char block[BAY_RING_CAP - BAY_RING_SPARE]; /* all a producer fills */
    bay__ring_wait w = within_ms(1000);
    cr_assert_eq(bay__ring_write(&host_out, block, sizeof block, &w), 0);
    w = within_ms(30);
    cr_assert_eq(bay__ring_write(&host_out, block, 1, &w), BAY_ETIMEDOUT);
}

Test(ring, an_impossible_peer_index_is_refused)
{
    bay__chan_hdr *h = mem;
    atomic_store(&h->to_worker.head, (uint64_t)BAY_RING_CAP * 3); /* more than the ring can hold */
    char b;
    bay__ring_wait w = within_ms(100);
    cr_assert_eq(bay__ring_read(&worker_in, &b, 1, &w), BAY_EPROTO, "bytes behind the index are refused");
    /* The host's consumer claims to have read bytes never written: the
     * worker's producer reads that index again once the room it saw last is
     * used up, and refuses it then. */
    static unsigned char block[BAY_RING_CAP - BAY_RING_SPARE];
    cr_assert_eq(bay__ring_write(&worker_out, block, sizeof block, &w), 0);
    atomic_store(&h->to_host.tail, (uint64_t)BAY_RING_CAP * 3);
    cr_assert_eq(bay__ring_write(&worker_out, "x", 1, &w), BAY_EPROTO);
}

/* forge writes the word v at the worker's ring position, followed by n bytes of garbage, as a hostile host could. */
static void forge(uint32_t v, size_t n)
{
    uint8_t *ring = (uint8_t *)mem + 4096; /* host -> worker */
    memset(ring + 4, 0xc1, n);              /* 0xc1: never valid msgpack */
    atomic_store((_Atomic uint32_t *)(void *)ring, v);
}

Test(ring, a_lying_frame_word_is_refused_or_costs_only_its_own_frame)
{
    bay__ring_wait w = within_ms(100);
    size_t len;
    forge(BAY_RING_WHOLE, 0);
    cr_assert_eq(bay__ring_read_len(&worker_in, BAY_FRAME_MAX, &len, &w), BAY_EPROTO, "an empty frame");
    forge(BAY_RING_WHOLE | BAY_RING_CAP, 0);
    cr_assert_eq(bay__ring_read_len(&worker_in, BAY_FRAME_MAX, &len, &w), BAY_EPROTO, "a whole frame the ring cannot hold");
    forge(BAY_RING_WHOLE | 64, 0);
    cr_assert_eq(bay__ring_read_len(&worker_in, 32, &len, &w), BAY_EPROTO, "a frame over the reader's limit");
    /* A word that says whole before its bytes were written (a torn write):
     * the consumer reads what the ring holds, which fails to decode. */
    forge(BAY_RING_WHOLE | 16, 16);
    void *buf;
    cr_assert_eq(bay__ring_read_frame(&worker_in, BAY_FRAME_MAX, &buf, &len, &w), 0);
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(buf, len, &d, &err), BAY_EPROTO);
    free(buf);
    cr_assert_eq(worker_in.pos, BAY_RING_ALIGN, "the consumer stands after the frame the word claimed");
    cr_assert_eq(bay__ring_readable(&worker_in), 0, "and waits for the next word");
}

Test(ring, a_frame_larger_than_the_ring_streams_behind_its_word)
{
    size_t n = 3 * BAY_RING_CAP + 5;
    uint8_t *raw = malloc(n + 5);
    raw[0] = 0xc6; /* msgpack bin 32 */
    raw[1] = (uint8_t)(n >> 24), raw[2] = (uint8_t)(n >> 16), raw[3] = (uint8_t)(n >> 8), raw[4] = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        raw[5 + i] = (uint8_t)(i * 13 + 1);
    struct reader r = {0, NULL, -1};
    pthread_t t;
    pthread_create(&t, NULL, read_one_frame, &r);
    bay__frame f = {.type = BAY_F_RESULT, .id = 9, .raw = raw, .raw_len = n + 5};
    bay__ring_wait w = within_ms(10000);
    cr_assert_eq(bay__ring_write_frame(&host_out, &f, &w), 0);
    pthread_join(t, NULL);
    cr_assert_eq(r.rc, 0);
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(r.got, r.len, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.id, 9);
    cr_assert(d.value && d.value->type == MSGPACK_OBJECT_BIN && d.value->via.bin.size == n &&
              memcmp(d.value->via.bin.ptr, raw + 5, n) == 0);
    bay__frame_release(&d);
    /* and the ring goes on with whole frames after it */
    f = (bay__frame){.type = BAY_F_RESULT, .id = 10};
    cr_assert_eq(bay__ring_write_frame(&host_out, &f, &w), 0);
    void *buf;
    size_t len;
    cr_assert_eq(bay__ring_read_frame(&worker_in, BAY_FRAME_MAX, &buf, &len, &w), 0);
    cr_assert_eq(bay__frame_decode(buf, len, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.id, 10);
    bay__frame_release(&d);
    free(buf);
    free(r.got);
    free(raw);
}

Test(ring, a_frame_length_over_the_limit_is_refused)
{
    const unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
    bay__ring_wait w = within_ms(100);
    cr_assert_eq(bay__ring_write(&host_out, huge, sizeof huge, &w), 0);
    void *buf;
    size_t len;
    cr_assert_eq(bay__ring_read_frame(&worker_in, BAY_FRAME_MAX, &buf, &len, &w), BAY_EPROTO);
}

Test(ring, a_foreign_layout_is_named)
{
    bay_error err;
    cr_assert_eq(bay__chan_check(mem, BAY_CHAN_SIZE, &err), 0);
    cr_assert_eq(bay__chan_check(mem, 4096, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "same plugbay build"), "%s", err.message);
    ((bay__chan_hdr *)mem)->version = 99;
    cr_assert_eq(bay__chan_check(mem, BAY_CHAN_SIZE, &err), BAY_EPROTO);
}

static bool never(void *arg)
{
    return false;
}

Test(ring, a_bell_wakes_a_sleeper_on_several_bells)
{
    bay__bell a = {0}, b = {0};
    bay__bell *bells[] = {&a, &b};
    uint32_t seen[] = {bay__bell_arm(&a), bay__bell_arm(&b)};
    bay__bell_ring(&b);
    int64_t t0 = bay__now_ns();
    bay__bell_sleep(bells, seen, 2, bay__now_ns() + 5000000000LL);
    cr_assert((bay__now_ns() - t0) < 1000000000LL, "a rung bell does not put a sleeper to sleep");
    bay__bell_disarm(&a);
    bay__bell_disarm(&b);
    bay__ring_wait w = within_ms(20);
    cr_assert_eq(bay__wait_for(never, NULL, bells, 2, &w), BAY_ETIMEDOUT);
}

Test(ring, spinning_adapts_to_how_long_waits_last)
{
    bay__spin s = {0};
    for (int i = 0; i < 50; i++)
        bay__spin_note(&s, 5000);
    int64_t short_budget = bay__spin_budget(&s);
    cr_assert(short_budget >= 17000 && short_budget <= 23000, "four times the waits: budget %lld ns",
              (long long)short_budget);
    for (int i = 0; i < 80; i++)
        bay__spin_note(&s, 50000000);
    cr_assert(bay__spin_budget(&s) < short_budget, "long waits spin less, not more");
}
