/* tests/unit/test_recent.c — the last lines of a log kept in memory, bounded in lines and bytes (broker/recent.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <plugbay/error.h>

#include "recent.h"

/* expect_line expects the i-th line r keeps, oldest first, to be text, numbered seq. */
static void expect_line(const bay__recent *r, size_t i, const char *text, uint64_t seq)
{
    uint64_t got = 0;
    const char *line = bay__recent_at(r, i, &got);
    cr_expect(line && strcmp(line, text) == 0, "line %zu: %s, not %s", i, line ? line : "(none)", text);
    cr_expect_eq(got, seq, "line %zu is numbered %llu, not %llu", i, (unsigned long long)got, (unsigned long long)seq);
}

Test(recent, keeps_lines_in_order_numbered_from_one)
{
    bay__recent *r = bay__recent_new(10, 1000);
    cr_assert_not_null(r);
    cr_expect_eq(bay__recent_count(r), 0);
    cr_expect_eq(bay__recent_next(r), 1);
    cr_expect_null(bay__recent_at(r, 0, NULL));
    cr_assert_eq(bay__recent_add(r, "one"), 0);
    cr_assert_eq(bay__recent_add(r, "two"), 0);
    expect_line(r, 0, "one", 1);
    expect_line(r, 1, "two", 2);
    cr_expect_eq(bay__recent_next(r), 3);
    bay__recent_free(r);
    bay__recent_free(NULL);
}

Test(recent, drops_the_oldest_past_its_lines)
{
    bay__recent *r = bay__recent_new(3, 1000);
    char line[16];
    for (int i = 1; i <= 7; i++) {
        snprintf(line, sizeof line, "line %d", i);
        cr_assert_eq(bay__recent_add(r, line), 0);
    }
    cr_expect_eq(bay__recent_count(r), 3);
    expect_line(r, 0, "line 5", 5);
    expect_line(r, 2, "line 7", 7);
    cr_expect_eq(bay__recent_next(r), 8);
    bay__recent_free(r);
}

Test(recent, drops_the_oldest_past_its_bytes)
{
    bay__recent *r = bay__recent_new(100, 10);
    cr_assert_eq(bay__recent_add(r, "aaaa"), 0);
    cr_assert_eq(bay__recent_add(r, "bbbb"), 0);
    cr_assert_eq(bay__recent_add(r, "cccc"), 0); /* 12 bytes: aaaa goes */
    cr_expect_eq(bay__recent_count(r), 2);
    expect_line(r, 0, "bbbb", 2);
    cr_assert_eq(bay__recent_add(r, "a line longer than ten bytes"), 0);
    cr_expect_eq(bay__recent_count(r), 1, "a long line is kept alone");
    expect_line(r, 0, "a line longer than ten bytes", 4);
    bay__recent_free(r);
}
