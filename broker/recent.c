/* broker/recent.c — the last lines of a log kept in memory: a ring bounded in lines and in bytes, each line numbered. */
#include "recent.h"

#include <stdlib.h>
#include <string.h>

#include <plugbay/error.h>

struct bay__recent {
    size_t max_lines, max_bytes;
    char **lines;   /* max_lines slots; the oldest at head */
    size_t head, n; /* where the oldest is, how many are kept */
    size_t bytes;   /* the kept lines' lengths, summed */
    uint64_t next;  /* the number the next line gets */
};

bay__recent *bay__recent_new(size_t max_lines, size_t max_bytes)
{
    bay__recent *r = calloc(1, sizeof *r);
    if (max_lines == 0)
        max_lines = 1;
    if (r == NULL || (r->lines = calloc(max_lines, sizeof *r->lines)) == NULL) {
        free(r);
        return NULL;
    }
    r->max_lines = max_lines;
    r->max_bytes = max_bytes;
    r->next = 1;
    return r;
}

void bay__recent_free(bay__recent *r)
{
    for (size_t i = 0; r && i < r->n; i++)
        free(r->lines[(r->head + i) % r->max_lines]);
    if (r)
        free(r->lines);
    free(r);
}

/* drop_oldest forgets the oldest line kept. */
static void drop_oldest(bay__recent *r)
{
    r->bytes -= strlen(r->lines[r->head]);
    free(r->lines[r->head]);
    r->lines[r->head] = NULL;
    r->head = (r->head + 1) % r->max_lines;
    r->n--;
}

int bay__recent_add(bay__recent *r, const char *line)
{
    size_t len = strlen(line);
    char *copy = strdup(line);
    if (copy == NULL)
        return BAY_ENOMEM;
    while (r->n > 0 && (r->n == r->max_lines || r->bytes + len > r->max_bytes))
        drop_oldest(r);
    r->lines[(r->head + r->n) % r->max_lines] = copy;
    r->n++;
    r->bytes += len;
    r->next++;
    return 0;
}

size_t bay__recent_count(const bay__recent *r)
{
    return r->n;
}

uint64_t bay__recent_next(const bay__recent *r)
{
    return r->next;
}

const char *bay__recent_at(const bay__recent *r, size_t i, uint64_t *seq)
{
    if (i >= r->n)
        return NULL;
    if (seq)
        *seq = r->next - r->n + i;
    return r->lines[(r->head + i) % r->max_lines];
}
