/* protocol/ring.h — the fast path's shared memory: two single-producer single-consumer byte rings in one memfd.
 *
 * A channel joins one host and one worker on the same machine. Its memfd holds
 * a header page and one ring per direction; each ring carries the same frames
 * as NNG, each one a 4-byte word (its length) and the msgpack frame, padded
 * to a cache line (BAY_RING_ALIGN). A frame that fits is written whole and then its word, with
 * BAY_RING_WHOLE set: the consumer waits on the word itself, so one cache line
 * brings it the news and the frame's first bytes, and it never reads the
 * producer's index (head) for such a frame. A frame larger than the ring
 * writes its word first and streams behind head while the consumer reads. A
 * producer clears the BAY_RING_SPARE bytes after all it wrote, so that the
 * next word reads 0 until its frame is there. A side that waits spins for a
 * while (adaptive: as long as its recent waits lasted, within bounds) and then
 * sleeps on a futex doorbell, which the other side rings after each write or
 * read, making a FUTEX_WAKE only when someone sleeps.
 *
 * The peer is never trusted: each side keeps its own index in private memory,
 * checks the peer's index and each word against the ring's size and copies
 * bytes out before decoding them. A peer that breaks the rules makes the ring
 * fail with BAY_EPROTO or its frames fail to decode, never a crash or an
 * endless wait; what a lying producer makes its consumer read is bytes of the
 * ring, which is no worse than any frame it could write. */
#ifndef BAY_RING_H
#define BAY_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "frame.h"

/* Bytes of each direction's ring (a power of two). */
#define BAY_RING_CAP (32u * 1024u)
/* Bytes of the channel's memfd: the header page and the two rings. */
#define BAY_CHAN_SIZE (4096u + 2u * BAY_RING_CAP)
#define BAY_CHAN_MAGIC 0x79616270u /* "pbay" */
#define BAY_CHAN_VERSION 3u
/* A frame's word: its length, with BAY_RING_WHOLE set when all its bytes were written before the word. */
#define BAY_RING_WHOLE 0x80000000u
/* Frames start on a cache line: each is padded to a multiple of this. */
#define BAY_RING_ALIGN 64u
/* Bytes a producer keeps free after what it wrote, cleared: the next frame's word stays 0 until that frame is there. */
#define BAY_RING_SPARE 4u
/* The most providers an event may have and still fan out from its host over
 * a fast channel to each (plugbayd grants them, libplugbay calls them). */
#define BAY_CHAN_EVENT_MAX 64
/* Longest a waiter sleeps before it asks again whether its peer is alive. */
#define BAY_RING_SLICE_MS 10

/* A futex doorbell. Whoever changes what a sleeper waits for rings it; a
 * sleeper arms it, checks its condition again, and sleeps only while seq still
 * holds the value arm returned. Works in shared and in private memory. */
typedef struct bay__bell {
    _Atomic uint32_t seq;
    _Atomic uint32_t sleepers;
} bay__bell;

/* One direction's shared control words; producer and consumer fields sit on separate cache lines. */
typedef struct bay__ring_ctl {
    _Alignas(64) _Atomic uint64_t head; /* bytes ever written (producer) */
    bay__bell data;                      /* rung by the producer after a write */
    _Alignas(64) _Atomic uint64_t tail; /* bytes ever read (consumer) */
    bay__bell space;                     /* rung by the consumer after a read */
} bay__ring_ctl;

/* The header page at offset 0 of a channel's memfd. */
typedef struct bay__chan_hdr {
    uint32_t magic, version, cap; /* BAY_CHAN_MAGIC, BAY_CHAN_VERSION, BAY_RING_CAP */
    int32_t worker_pid;
    _Atomic uint32_t closed;      /* set by the worker once it takes no more calls from this channel */
    _Atomic uint64_t input_over;  /* set by the worker: the id of the last upload whose call ended before its input
                                   * did (its host sends no more of it) */
    bay__ring_ctl to_worker, to_host;
} bay__chan_hdr;

/* Adaptive spinning: how long a side's recent waits lasted. */
typedef struct bay__spin {
    int64_t avg_ns;
} bay__spin;

/* How an operation waits for its peer: spin (spin may be NULL: no spinning),
 * then sleep; with alive set, in slices of BAY_RING_SLICE_MS, calling
 * alive(arg) after each: a non-zero answer ends the wait with that code.
 * until_ns is a CLOCK_MONOTONIC deadline (0 = none) that ends it with BAY_ETIMEDOUT. */
typedef struct bay__ring_wait {
    int64_t until_ns;
    int (*alive)(void *arg);
    void *arg;
    bay__spin *spin;
} bay__ring_wait;

/* One side's private view of one direction. */
typedef struct bay__ring {
    bay__ring_ctl *ctl;
    uint8_t *data;
    uint64_t pos;  /* our own index: head when we produce, tail when we consume */
    uint64_t peer; /* the peer's index as last read and checked: loaded again only when it allows too little */
    size_t body;   /* a consumer's bytes of the frame being read still to read (0: between frames) */
    bool whole;    /* a consumer's frame being read was written whole before its word */
    bool producer;
} bay__ring;


/* bay__bell_ring bumps b and wakes its sleepers, if any. */
void bay__bell_ring(bay__bell *b);

/* bay__bell_arm registers a sleeper on b and returns the seq to sleep against;
 * bay__bell_disarm unregisters it. */
uint32_t bay__bell_arm(bay__bell *b);
void bay__bell_disarm(bay__bell *b);

/* bay__bell_sleep sleeps until one of the n bells (at most 128) no longer holds
 * seen[i], a wake-up, or until_ns (CLOCK_MONOTONIC; 0 = no limit). */
void bay__bell_sleep(bay__bell *const *bells, const uint32_t *seen, size_t n, int64_t until_ns);

/* bay__spin_budget returns how many ns to spin before sleeping: four times the
 * recent waits while they stay short (10 to 50 µs), 10 µs once they are long:
 * about what sleeping and being woken costs here (a futex round trip between
 * two processes measures 6.9-13.3 µs), so that a side never burns much more
 * CPU spinning than sleeping would have cost it, which matters once there are
 * more workers than CPUs.
 * bay__spin_note records a wait that lasted ns. */
int64_t bay__spin_budget(const bay__spin *s);
void bay__spin_note(bay__spin *s, int64_t ns);

/* bay__cpu_relax tells the CPU this thread is spinning. */
static inline void bay__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* bay__wait_for waits as w says until ready(arg) is true (0) or the wait ends
 * (BAY_ETIMEDOUT, or alive's code); it sleeps on the n bells. */
int bay__wait_for(bool (*ready)(void *), void *arg, bay__bell *const *bells, size_t n, const bay__ring_wait *w);

/* bay__chan_init lays out a new channel in mem (BAY_CHAN_SIZE zeroed bytes). */
void bay__chan_init(void *mem, int32_t worker_pid);

/* bay__chan_check returns 0 when mem (size bytes) is a channel this build
 * speaks, else BAY_EPROTO with the reason in err. */
int bay__chan_check(const void *mem, size_t size, bay_error *err);

/* bay__chan_rings gives the worker's (worker true) or the host's view of the
 * channel at mem: the ring it reads (in) and the ring it writes (out). */
void bay__chan_rings(void *mem, bool worker, bay__ring *in, bay__ring *out);

/* bay__ring_readable returns how many bytes a consumer may read now (a
 * producer: write), or -1 when the peer's index is impossible (a broken or
 * hostile peer). */
int64_t bay__ring_readable(bay__ring *r);

/* bay__ring_read reads exactly len bytes into buf, waiting for the producer as
 * w says: after bay__ring_read_len, bytes of that frame (at most what is left
 * of it; its padding is skipped after its last byte), otherwise bytes as
 * bay__ring_write wrote them. Returns 0, BAY_ETIMEDOUT, alive's code,
 * BAY_EINVAL (more than the frame has left), or BAY_EPROTO. */
int bay__ring_read(bay__ring *r, void *buf, size_t len, const bay__ring_wait *w);

/* bay__ring_write writes len bytes of buf behind the ring's index (no frame
 * word: the hostile tests use it to forge one), waiting for room as w says.
 * Returns 0, BAY_ETIMEDOUT, alive's code, or BAY_EPROTO. A failed write may
 * have written part of buf: the ring can no longer be used then. */
int bay__ring_write(bay__ring *r, const void *buf, size_t len, const bay__ring_wait *w);

/* bay__ring_read_len waits as w says for the word that starts a frame and
 * puts its length in *len; 0, over max bytes, or a whole frame larger than
 * the ring is BAY_EPROTO. The frame's bytes follow with bay__ring_read. */
int bay__ring_read_len(bay__ring *r, size_t max, size_t *len, const bay__ring_wait *w);

/* bay__ring_read_frame reads one length-prefixed frame into a new malloc'ed
 * buffer (*out, *len) the caller frees. Frames over max bytes are BAY_EPROTO. */
int bay__ring_read_frame(bay__ring *r, size_t max, void **out, size_t *len, const bay__ring_wait *w);

/* bay__ring_wait_room waits as w says until producer r has room for size
 * bytes at once. Returns 0, BAY_ETIMEDOUT, alive's code, or BAY_EPROTO. */
int bay__ring_wait_room(bay__ring *r, size_t size, const bay__ring_wait *w);

/* bay__ring_write_frame encodes f as a length-prefixed frame and writes it like bay__ring_write;
 * BAY_EINVAL when f cannot be encoded or is over BAY_FRAME_MAX. */
int bay__ring_write_frame(bay__ring *r, const bay__frame *f, const bay__ring_wait *w);

/* bay__ring_consumed returns the bytes the consumer has read so far, as the
 * producer sees it (the consumer's shared index). */
uint64_t bay__ring_consumed(const bay__ring *r);

/* The channel's Unix socket (SOCK_SEQPACKET) carries a few frames, one per
 * message: the host's HELLO with its token, the worker's WELCOME with the
 * memfd (or an ERROR), and the host's CANCELs. */

/* bay__chan_send sends f on fd as one message, passing pass_fd along
 * (SCM_RIGHTS) when it is >= 0. Never blocks. Returns 0, BAY_EINVAL when f
 * cannot be encoded, BAY_EBUSY when the socket is full, or BAY_ECONN. */
int bay__chan_send(int fd, const bay__frame *f, int pass_fd);

/* bay__chan_recv waits up to timeout_ms (-1: no limit) for one message on fd,
 * received into buf (size bytes), and decodes it into f, which points into
 * buf: release f before reusing buf. A descriptor passed along goes to
 * *got_fd (-1 when none); with got_fd NULL it is closed. Returns 0,
 * BAY_ETIMEDOUT, BAY_ECONN (the peer hung up), or the decoding error; err
 * gets the reason of each. */
int bay__chan_recv(int fd, void *buf, size_t size, int timeout_ms, bay__frame *f, int *got_fd, bay_error *err);

#endif
