/* bridges/python/memcap.c — the cap on a plugin's Python memory: Python's raw allocator and pymalloc's arenas, wrapped to count bytes.
 *
 * Every Python object lives either in a pymalloc arena (objects up to 512
 * bytes; arenas come whole from the arena allocator, which is told their
 * size) or in a block of the raw allocator (larger objects, buffers, the
 * interpreter's own tables), whose size malloc_usable_size() tells. Wrapping
 * those two counts all of it. An allocation that would pass the cap fails,
 * which Python turns into MemoryError. A refused arena is not yet an error:
 * pymalloc then asks the raw allocator for the object alone. A refused raw
 * block is, and from then on a reserve of a few MiB above the cap lets the
 * exception unwind and be reported, until pyb_memcap_reset. */
#include "py_bridge.h"

#include <limits.h>
#include <malloc.h>
#include <stdatomic.h>

/* What an allocation may pass the cap by once one was refused. */
#define RESERVE_BYTES (8u << 20)

static struct {
    PyMemAllocatorEx raw;         /* the wrapped raw allocator */
    PyObjectArenaAllocator arena; /* the wrapped arena allocator */
    atomic_llong used;            /* bytes held now */
    atomic_size_t cap;            /* 0 = none */
    atomic_bool hit;              /* an allocation was refused since the last reset */
    atomic_bool reserve;          /* a raw block was refused since the last reset: the reserve is open */
} mem;

/* admit tells whether more bytes fit; a refusal of a raw block (raw) opens the reserve. */
static bool admit(size_t more, bool raw)
{
    size_t cap = atomic_load_explicit(&mem.cap, memory_order_relaxed);
    if (cap == 0)
        return true;
    bool reserve = atomic_load_explicit(&mem.reserve, memory_order_relaxed);
    long long used = atomic_load_explicit(&mem.used, memory_order_relaxed);
    long long limit = (long long)cap + (reserve ? RESERVE_BYTES : 0);
    if (more <= (size_t)limit && used <= limit - (long long)more)
        return true;
    atomic_store(&mem.hit, true);
    if (raw)
        atomic_store(&mem.reserve, true);
    return false;
}

static void count(void *p, long long sign)
{
    if (p)
        atomic_fetch_add_explicit(&mem.used, sign * (long long)malloc_usable_size(p), memory_order_relaxed);
}

static void *raw_malloc(void *ctx, size_t size)
{
    void *p = admit(size, true) ? mem.raw.malloc(mem.raw.ctx, size) : NULL;
    count(p, 1);
    return p;
}

static void *raw_calloc(void *ctx, size_t nelem, size_t elsize)
{
    if (elsize && nelem > SIZE_MAX / elsize)
        return NULL;
    void *p = admit(nelem * elsize, true) ? mem.raw.calloc(mem.raw.ctx, nelem, elsize) : NULL;
    count(p, 1);
    return p;
}

static void *raw_realloc(void *ctx, void *ptr, size_t size)
{
    size_t old = ptr ? malloc_usable_size(ptr) : 0;
    if (size > old && !admit(size - old, true))
        return NULL;
    void *p = mem.raw.realloc(mem.raw.ctx, ptr, size);
    if (p) {
        atomic_fetch_sub_explicit(&mem.used, (long long)old, memory_order_relaxed);
        count(p, 1);
    }
    return p;
}

static void raw_free(void *ctx, void *ptr)
{
    count(ptr, -1);
    mem.raw.free(mem.raw.ctx, ptr);
}

static void *arena_alloc(void *ctx, size_t size)
{
    void *p = admit(size, false) ? mem.arena.alloc(mem.arena.ctx, size) : NULL;
    if (p)
        atomic_fetch_add_explicit(&mem.used, (long long)size, memory_order_relaxed);
    return p;
}

static void arena_free(void *ctx, void *ptr, size_t size)
{
    atomic_fetch_sub_explicit(&mem.used, (long long)size, memory_order_relaxed);
    mem.arena.free(mem.arena.ctx, ptr, size);
}

void pyb_memcap_install(void)
{
    static bool installed;
    if (installed)
        return;
    installed = true;
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &mem.raw);
    PyMemAllocatorEx raw = {NULL, raw_malloc, raw_calloc, raw_realloc, raw_free};
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw);
    PyObject_GetArenaAllocator(&mem.arena);
    PyObjectArenaAllocator arena = {NULL, arena_alloc, arena_free};
    PyObject_SetArenaAllocator(&arena);
}

void pyb_memcap_set(size_t bytes)
{
    atomic_store(&mem.cap, bytes);
}

size_t pyb_memcap_cap_mb(void)
{
    return atomic_load(&mem.cap) >> 20;
}

bool pyb_memcap_hit(void)
{
    return atomic_load(&mem.hit);
}

void pyb_memcap_reset(void)
{
    atomic_store(&mem.hit, false);
    atomic_store(&mem.reserve, false);
}
