/* protocol/msgpack_scan.c — a cheap pass over msgpack bytes that refuses counts the bytes cannot hold.
 *
 * msgpack-c allocates room for a container's declared item count before it
 * reads the items, so five bytes claiming 2^32 items would ask for 64 GiB.
 * Every item takes at least one byte, so a count larger than the bytes left
 * is a lie we can refuse before msgpack-c sees it. Written here because
 * msgpack-c 4.0 has no option for it. */
#include "value_internal.h"

static uint64_t big_endian(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* header describes how an item starting with byte t continues. */
typedef struct header {
    int count_bytes; /* size of a following length or count field */
    bool is_count;   /* that field counts items (array, map) rather than bytes */
    int pairs;       /* 2 for maps: each counted entry is two items */
    uint64_t skip;   /* fixed bytes after the field (scalars, ext type) */
    uint64_t items;  /* items of a fix-sized container */
} header;

static header describe(unsigned char t)
{
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return (header){0};
    if (t <= 0x8f)
        return (header){.items = 2u * (t & 0x0fu)};
    if (t <= 0x9f)
        return (header){.items = t & 0x0fu};
    if (t <= 0xbf)
        return (header){.skip = t & 0x1fu};
    switch (t) {
    case 0xc4: case 0xd9: return (header){.count_bytes = 1};
    case 0xc5: case 0xda: return (header){.count_bytes = 2};
    case 0xc6: case 0xdb: return (header){.count_bytes = 4};
    case 0xc7: return (header){.count_bytes = 1, .skip = 1};
    case 0xc8: return (header){.count_bytes = 2, .skip = 1};
    case 0xc9: return (header){.count_bytes = 4, .skip = 1};
    case 0xca: case 0xce: case 0xd2: return (header){.skip = 4};
    case 0xcb: case 0xcf: case 0xd3: return (header){.skip = 8};
    case 0xcc: case 0xd0: return (header){.skip = 1};
    case 0xcd: case 0xd1: return (header){.skip = 2};
    case 0xd4: return (header){.skip = 2};
    case 0xd5: return (header){.skip = 3};
    case 0xd6: return (header){.skip = 5};
    case 0xd7: return (header){.skip = 9};
    case 0xd8: return (header){.skip = 17};
    case 0xdc: return (header){.count_bytes = 2, .is_count = true, .pairs = 1};
    case 0xdd: return (header){.count_bytes = 4, .is_count = true, .pairs = 1};
    case 0xde: return (header){.count_bytes = 2, .is_count = true, .pairs = 2};
    case 0xdf: return (header){.count_bytes = 4, .is_count = true, .pairs = 2};
    default: return (header){0}; /* 0xc1, never used: msgpack-c reports it */
    }
}

bool bay__msgpack_counts_fit(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t need = 1; /* items still to read */
    size_t i = 0;
    while (need > 0 && i < len) {
        header h = describe(p[i++]);
        need--;
        if (h.count_bytes) {
            if ((size_t)h.count_bytes > len - i)
                return true; /* truncated: msgpack-c says so */
            uint64_t n = big_endian(p + i, h.count_bytes);
            i += (size_t)h.count_bytes;
            if (h.is_count)
                h.items = n * (uint64_t)h.pairs;
            else
                h.skip += n;
        }
        if (h.skip > len - i)
            return true;
        i += (size_t)h.skip;
        need += h.items;
        if (need > len - i)
            return false;
    }
    return true;
}
