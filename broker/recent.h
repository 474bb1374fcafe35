/* broker/recent.h — the last lines of a log kept in memory: a ring bounded in lines and in bytes, each line numbered. */
#ifndef BAY_RECENT_H
#define BAY_RECENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct bay__recent bay__recent;

/* bay__recent_new returns an empty ring that keeps at most max_lines lines
 * (at least 1) of at most max_bytes bytes in all, or NULL when out of memory.
 * The caller frees it with bay__recent_free. */
bay__recent *bay__recent_new(size_t max_lines, size_t max_bytes);

/* bay__recent_free frees r and its lines (NULL allowed). */
void bay__recent_free(bay__recent *r);

/* bay__recent_add keeps a copy of line, numbered one more than the line
 * before (the first is 1), dropping the oldest lines until both bounds hold
 * (a line longer than max_bytes alone is kept alone). Returns 0, or
 * BAY_ENOMEM with nothing changed. */
int bay__recent_add(bay__recent *r, const char *line);

/* bay__recent_count returns how many lines r keeps now. */
size_t bay__recent_count(const bay__recent *r);

/* bay__recent_next returns the number the next line added will get: every
 * line kept has a smaller one, so a reader that saw up to next - 1 asks for
 * lines after that. */
uint64_t bay__recent_next(const bay__recent *r);

/* bay__recent_at returns the i-th line kept, oldest first (borrowed: valid
 * until the next bay__recent_add or free), and its number in *seq (NULL
 * allowed); NULL when i >= bay__recent_count(r). */
const char *bay__recent_at(const bay__recent *r, size_t i, uint64_t *seq);

#endif
