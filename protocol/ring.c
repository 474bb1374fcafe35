/* protocol/ring.c — the fast path's shared memory: futex doorbells, adaptive waits and the SPSC byte rings. */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <plugbay/error.h>

/* Spinning: never longer than this per wait, at least this when waits are short (see bay__spin_budget). */
#define SPIN_MAX_NS 50000
#define SPIN_MIN_NS 10000

void bay__bell_ring(bay__bell *b)
{
    atomic_fetch_add(&b->seq, 1);
    if (atomic_load(&b->sleepers))
        syscall(SYS_futex, &b->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

uint32_t bay__bell_arm(bay__bell *b)
{
    atomic_fetch_add(&b->sleepers, 1);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with wake_sleepers' fence */
    return atomic_load(&b->seq);
}

/* wake_sleepers rings a ring's bell b only when someone sleeps on it. Its
 * waiters check the ring's indices, not the count of rings, so a ring nobody
 * sleeps on needs no write to the line the peer reads: the fence orders the
 * index just published before the look at sleepers, as bay__bell_arm orders
 * its sleeper's registration before its look at the index. */
static void wake_sleepers(bay__bell *b)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&b->sleepers, memory_order_relaxed))
        bay__bell_ring(b);
}

void bay__bell_disarm(bay__bell *b)
{
    atomic_fetch_sub(&b->sleepers, 1);
}

void bay__bell_sleep(bay__bell *const *bells, const uint32_t *seen, size_t n, int64_t until_ns)
{
    struct timespec ts = {until_ns / 1000000000, until_ns % 1000000000};
    const struct timespec *limit = until_ns ? &ts : NULL;
    if (n == 1) {
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
        syscall(SYS_futex, &bells[0]->seq, FUTEX_WAIT_BITSET, seen[0], limit, NULL, FUTEX_BITSET_MATCH_ANY);
        return;
    }
    struct futex_waitv w[FUTEX_WAITV_MAX];
    if (n > FUTEX_WAITV_MAX)
        n = FUTEX_WAITV_MAX;
    for (size_t i = 0; i < n; i++)
        w[i] = (struct futex_waitv){.val = seen[i], .uaddr = (uintptr_t)&bells[i]->seq, .flags = FUTEX_32};
    if (syscall(SYS_futex_waitv, w, (unsigned)n, 0, limit, CLOCK_MONOTONIC) < 0 && errno == ENOSYS) {
        /* A kernel before 5.16: nap briefly instead. */
        struct timespec nap = {0, 200000};
        nanosleep(&nap, NULL);
    }
}

int64_t bay__spin_budget(const bay__spin *s)
{
    if (s == NULL)
        return 0;
    if (s->avg_ns > SPIN_MAX_NS)
        return SPIN_MIN_NS;
    int64_t budget = 4 * s->avg_ns;
    return budget < SPIN_MIN_NS ? SPIN_MIN_NS : budget > SPIN_MAX_NS ? SPIN_MAX_NS : budget;
}

void bay__spin_note(bay__spin *s, int64_t ns)
{
    if (s)
        s->avg_ns += (ns - s->avg_ns) / 8;
}

int bay__wait_for(bool (*ready)(void *), void *arg, bay__bell *const *bells, size_t n, const bay__ring_wait *w)
{
    if (ready(arg))
        return 0;
    int64_t start = bay__now_ns(), budget = bay__spin_budget(w->spin);
    for (unsigned i = 1; budget > 0; i++) {
        bay__cpu_relax();
        if (ready(arg)) {
            bay__spin_note(w->spin, bay__now_ns() - start);
            return 0;
        }
        if ((i & 31) == 0 && bay__now_ns() - start >= budget)
            break;
    }
    uint32_t seen[FUTEX_WAITV_MAX];
    if (n > FUTEX_WAITV_MAX)
        n = FUTEX_WAITV_MAX;
    int rc = 0;
    for (;;) {
        for (size_t i = 0; i < n; i++)
            seen[i] = bay__bell_arm(bells[i]);
        bool now_ready = ready(arg);
        int64_t now = bay__now_ns(), until = w->until_ns;
        if (w->alive && (until == 0 || until > now + BAY_RING_SLICE_MS * 1000000LL))
            until = now + BAY_RING_SLICE_MS * 1000000LL;
        if (!now_ready && (w->until_ns == 0 || now < w->until_ns))
            bay__bell_sleep(bells, seen, n, until);
        for (size_t i = 0; i < n; i++)
            bay__bell_disarm(bells[i]);
        if (now_ready || ready(arg))
            break;
        if (w->alive && (rc = w->alive(w->arg)) != 0)
            break;
        if (w->until_ns && bay__now_ns() >= w->until_ns) {
            rc = BAY_ETIMEDOUT;
            break;
        }
    }
    bay__spin_note(w->spin, bay__now_ns() - start);
    return rc;
}

void bay__chan_init(void *mem, int32_t worker_pid)
{
    bay__chan_hdr *h = mem;
    h->magic = BAY_CHAN_MAGIC;
    h->version = BAY_CHAN_VERSION;
    h->cap = BAY_RING_CAP;
    h->worker_pid = worker_pid;
}

int bay__chan_check(const void *mem, size_t size, bay_error *err)
{
    const bay__chan_hdr *h = mem;
    if (size != BAY_CHAN_SIZE || h->magic != BAY_CHAN_MAGIC || h->version != BAY_CHAN_VERSION ||
        h->cap != BAY_RING_CAP)
        return bay_error_set(err, BAY_EPROTO, NULL,
                             "the channel's shared memory is %zu bytes, version %u, rings of %u bytes; this side "
                             "expects %u bytes, version %u, rings of %u bytes (are host and worker from the same "
                             "plugbay build?)",
                             size, h->version, h->cap, BAY_CHAN_SIZE, BAY_CHAN_VERSION, BAY_RING_CAP);
    return 0;
}

void bay__chan_rings(void *mem, bool worker, bay__ring *in, bay__ring *out)
{
    bay__chan_hdr *h = mem;
    uint8_t *to_worker = (uint8_t *)mem + 4096, *to_host = to_worker + BAY_RING_CAP;
    *in = (bay__ring){.ctl = worker ? &h->to_worker : &h->to_host, .data = worker ? to_worker : to_host};
    *out = (bay__ring){.ctl = worker ? &h->to_host : &h->to_worker, .data = worker ? to_host : to_worker,
                      .producer = true};
}

/* available returns how many bytes r may move now (read, or write when r
 * produces), or -1 for an impossible index of the peer's. The peer's index is
 * read from shared memory only when the one seen last allows fewer than want
 * bytes: a line the peer writes is fetched once per frame, not per look. A
 * producer keeps BAY_RING_SPARE bytes free (see put); a consumer may be ahead
 * of the producer's index for a moment after a whole frame (its word is
 * published before the index), which allows nothing yet. */
static int64_t available(bay__ring *r, size_t want)
{
    for (bool fresh = false;; fresh = true) {
        int64_t n;
        if (r->producer) {
            uint64_t used = r->pos - r->peer;
            if (used > BAY_RING_CAP)
                return -1;
            n = used > BAY_RING_CAP - BAY_RING_SPARE ? 0 : (int64_t)(BAY_RING_CAP - BAY_RING_SPARE - used);
        } else {
            uint64_t ahead = r->peer - r->pos;
            if (ahead > BAY_RING_CAP && r->pos - r->peer > BAY_RING_CAP)
                return -1;
            n = ahead > BAY_RING_CAP ? 0 : (int64_t)ahead;
        }
        if (fresh || (size_t)n >= want)
            return n;
        r->peer = atomic_load_explicit(r->producer ? &r->ctl->tail : &r->ctl->head, memory_order_acquire);
    }
}

/* word is the frame word at a consumer's or producer's position (frames start on a cache line). */
static _Atomic uint32_t *word(const bay__ring *r, uint64_t at)
{
    return (_Atomic uint32_t *)(void *)(r->data + (at & (BAY_RING_CAP - 1)));
}

/* padding is what a frame that ends at end (its start on a cache line, or
 * its size) is padded with so that the next frame starts on one: then a small
 * frame and its word cross between cores as one cache line, and a reader of
 * one frame never shares a line with the writer of the next. */
static size_t padding(uint64_t end)
{
    return (size_t)(-end & (BAY_RING_ALIGN - 1));
}

/* has_word tells a waiting consumer that a frame's word is at its position. */
static bool has_word(void *arg)
{
    const bay__ring *r = arg;
    return atomic_load_explicit(word(r, r->pos), memory_order_acquire) != 0;
}

int64_t bay__ring_readable(bay__ring *r)
{
    return r->producer || r->body ? available(r, 1) : has_word(r);
}

/* movable tells a waiting side that its ring has data to read or room to write. */
static bool movable(void *arg)
{
    return available(arg, 1) != 0;
}

/* put copies len bytes of buf into r's ring at at, wrapping; get copies them out. */
static void put(bay__ring *r, uint64_t at, const uint8_t *buf, size_t len)
{
    size_t off = at & (BAY_RING_CAP - 1), first = len < BAY_RING_CAP - off ? len : BAY_RING_CAP - off;
    memcpy(r->data + off, buf, first);
    memcpy(r->data, buf + first, len - first);
}

static void get(const bay__ring *r, uint64_t at, uint8_t *buf, size_t len)
{
    size_t off = at & (BAY_RING_CAP - 1), first = len < BAY_RING_CAP - off ? len : BAY_RING_CAP - off;
    memcpy(buf, r->data + off, first);
    memcpy(buf + first, r->data, len - first);
}

/* publish makes r's index r->pos visible to the peer and wakes it if it sleeps. */
static void publish(bay__ring *r)
{
    atomic_store_explicit(r->producer ? &r->ctl->head : &r->ctl->tail, r->pos, memory_order_release);
    wake_sleepers(r->producer ? &r->ctl->data : &r->ctl->space);
}

/* transfer moves len bytes between buf and the ring, waiting for the peer as
 * w says: into the ring when r produces, out of it when r consumes. A
 * producer clears the BAY_RING_SPARE bytes after what it wrote before it
 * publishes: where a frame ends, they are the next frame's word, which a
 * consumer must find zero until that frame is there. */
static int transfer(bay__ring *r, uint8_t *buf, size_t len, const bay__ring_wait *w)
{
    bay__bell *peer_moved = r->producer ? &r->ctl->space : &r->ctl->data;
    static const uint8_t zero[BAY_RING_SPARE];
    while (len > 0) {
        int rc = bay__wait_for(movable, r, &peer_moved, 1, w);
        if (rc)
            return rc;
        int64_t avail = available(r, len);
        if (avail < 0)
            return BAY_EPROTO;
        size_t n = (size_t)avail < len ? (size_t)avail : len;
        if (r->producer) {
            put(r, r->pos, buf, n);
            put(r, r->pos + n, zero, sizeof zero);
        } else {
            get(r, r->pos, buf, n);
        }
        buf += n;
        len -= n;
        r->pos += n;
        publish(r);
    }
    return 0;
}

int bay__ring_write(bay__ring *r, const void *buf, size_t len, const bay__ring_wait *w)
{
    return r->producer ? transfer(r, (uint8_t *)buf, len, w) : BAY_EINVAL; /* only read from in this direction */
}

int bay__ring_read_len(bay__ring *r, size_t max, size_t *len, const bay__ring_wait *w)
{
    if (r->producer || r->body || (r->pos & (BAY_RING_ALIGN - 1)))
        return BAY_EINVAL; /* a frame's body is still to be read, or bytes were read that were no frame */
    bay__bell *data = &r->ctl->data;
    int rc = bay__wait_for(has_word, r, &data, 1, w);
    if (rc)
        return rc;
    uint32_t v = atomic_load_explicit(word(r, r->pos), memory_order_acquire);
    *len = v & ~BAY_RING_WHOLE;
    if (*len == 0 || *len > max || *len > BAY_FRAME_MAX ||
        ((v & BAY_RING_WHOLE) && 4 + *len + padding(4 + *len) + BAY_RING_SPARE > BAY_RING_CAP))
        return BAY_EPROTO;
    r->whole = (v & BAY_RING_WHOLE) != 0;
    r->body = *len;
    r->pos += 4;
    return 0;
}

int bay__ring_read(bay__ring *r, void *buf, size_t len, const bay__ring_wait *w)
{
    if (r->producer || (r->body && len > r->body))
        return BAY_EINVAL;
    if (r->body == 0)
        return transfer(r, buf, len, w); /* bytes, not a frame */
    int rc = 0;
    if (r->whole) {
        get(r, r->pos, buf, len); /* written before its word: no index to wait for */
        r->pos += len;
    } else {
        rc = transfer(r, buf, len, w);
    }
    if (rc == 0 && (r->body -= len) == 0) {
        r->pos += padding(r->pos);
        publish(r);
    }
    return rc;
}

int bay__ring_read_frame(bay__ring *r, size_t max, void **out, size_t *len, const bay__ring_wait *w)
{
    size_t n;
    int rc = bay__ring_read_len(r, max, &n, w);
    if (rc)
        return rc;
    void *buf = malloc(n);
    if (buf == NULL)
        return BAY_ENOMEM;
    if ((rc = bay__ring_read(r, buf, n, w)) != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* What a producer waits for before it writes a whole frame: room for size bytes. */
struct room_for {
    bay__ring *r;
    size_t size;
};

/* has_room_for tells a waiting producer that a whole frame fits, or that the consumer's index is impossible. */
static bool has_room_for(void *arg)
{
    const struct room_for *q = arg;
    int64_t n = available(q->r, q->size);
    return n < 0 || (size_t)n >= q->size;
}

int bay__ring_wait_room(bay__ring *r, size_t size, const bay__ring_wait *w)
{
    bay__bell *space = &r->ctl->space;
    struct room_for q = {r, size};
    int rc = r->producer ? bay__wait_for(has_room_for, &q, &space, 1, w) : BAY_EINVAL;
    return rc == 0 && available(r, size) < 0 ? BAY_EPROTO : rc;
}

/* write_word waits as w says for room for a frame of size bytes (its word
 * included) and writes the word v at the ring's position. With whole, the
 * frame's other bytes (buf, size - 4 of them) are written first, then the word: the consumer
 * reads them without looking at the index. Otherwise only the word is
 * written, and the frame's bytes stream behind the index. */
static int write_word(bay__ring *r, uint32_t v, const uint8_t *buf, size_t size, bool whole, const bay__ring_wait *w)
{
    static const uint8_t zero[BAY_RING_SPARE];
    int rc = bay__ring_wait_room(r, whole ? size : 4, w);
    if (rc)
        return rc;
    if (whole) {
        put(r, r->pos + 4, buf, size - 4);
        put(r, r->pos + size, zero, sizeof zero); /* the next word */
    }
    atomic_store_explicit(word(r, r->pos), v, memory_order_release);
    r->pos += whole ? size : 4;
    if (whole)
        publish(r);
    return 0;
}

int bay__ring_write_frame(bay__ring *r, const bay__frame *f, const bay__ring_wait *w)
{
    if (!r->producer || (r->pos & (BAY_RING_ALIGN - 1)))
        return BAY_EINVAL; /* bytes that were no frame were written */
    bay__scratch sb;
    bay__scratch_init(&sb);
    static const uint8_t zero[BAY_RING_ALIGN];
    int rc = bay__scratch_write(&sb, (const char *)zero, 4) ? BAY_ENOMEM : bay__frame_encode(f, bay__scratch_write, &sb);
    size_t n = sb.size - 4;
    if (rc == 0 && n > BAY_FRAME_MAX)
        rc = BAY_EINVAL;
    if (rc == 0 && bay__scratch_write(&sb, (const char *)zero, padding(sb.size)) != 0)
        rc = BAY_ENOMEM;
    bool whole = sb.size + BAY_RING_SPARE <= BAY_RING_CAP;
    if (rc == 0)
        rc = write_word(r, (uint32_t)n | (whole ? BAY_RING_WHOLE : 0), (const uint8_t *)sb.data + 4, sb.size, whole, w);
    if (rc == 0 && !whole)
        rc = bay__ring_write(r, sb.data + 4, sb.size - 4, w);
    bay__scratch_free(&sb);
    return rc;
}

uint64_t bay__ring_consumed(const bay__ring *r)
{
    return atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
}

int bay__chan_send(int fd, const bay__frame *f, int pass_fd)
{
    bay__scratch sb;
    bay__scratch_init(&sb);
    if (bay__frame_encode(f, bay__scratch_write, &sb) != 0) {
        bay__scratch_free(&sb);
        return BAY_EINVAL;
    }
    struct iovec iov = {sb.data, sb.size};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    if (pass_fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    int rc = n >= 0 ? 0 : errno == EAGAIN ? BAY_EBUSY : BAY_ECONN;
    bay__scratch_free(&sb);
    return rc;
}

/* take_fds stores the first descriptor passed in m in *got_fd (when not NULL) and closes the others. */
static void take_fds(struct msghdr *m, int *got_fd)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (got_fd && *got_fd < 0)
                *got_fd = fd;
            else
                close(fd);
        }
    }
}

int bay__chan_recv(int fd, void *buf, size_t size, int timeout_ms, bay__frame *f, int *got_fd, bay_error *err)
{
    memset(f, 0, sizeof *f);
    if (got_fd)
        *got_fd = -1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready;
    while ((ready = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (ready == 0)
        return bay_error_set(err, BAY_ETIMEDOUT, NULL, "no answer within %d ms", timeout_ms);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {buf, size};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return bay_error_set(err, n < 0 && errno == EAGAIN ? BAY_ETIMEDOUT : BAY_ECONN, NULL, "%s",
                             n == 0 ? "the peer hung up" : strerror(errno));
    take_fds(&m, got_fd);
    if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        if (got_fd && *got_fd >= 0)
            close(*got_fd);
        if (got_fd)
            *got_fd = -1;
        return bay_error_set(err, BAY_EPROTO, NULL, "a message longer than %zu bytes or with too many descriptors",
                             size);
    }
    return bay__frame_decode(buf, (size_t)n, f, err);
}
