/* tests/unit/test_share.c — fair shares: counting each connection's calls at each provider, and who waits (broker/share.c). */
#include <criterion/criterion.h>

#include "share.h"

static int p1, p2; /* two providers: only their addresses matter */

Test(share, counts_go_up_and_down_per_connection_and_provider)
{
    bay__shares *s = bay__shares_new();
    cr_assert_not_null(s);
    cr_assert_eq(bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, 1), 0);
    cr_assert_eq(bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, 1), 0);
    cr_assert_eq(bay__shares_add(s, 7, &p2, BAY_SHARE_IN_FLIGHT, 1), 0);
    cr_assert_eq(bay__shares_add(s, 9, &p1, BAY_SHARE_IN_FLIGHT, 1), 0);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_IN_FLIGHT), 2);
    cr_expect_eq(bay__shares_count(s, 7, &p2, BAY_SHARE_IN_FLIGHT), 1);
    cr_expect_eq(bay__shares_count(s, 9, &p1, BAY_SHARE_IN_FLIGHT), 1);
    cr_expect_eq(bay__shares_count(s, 9, &p2, BAY_SHARE_IN_FLIGHT), 0);
    cr_expect_eq(bay__shares_count(s, 8, &p1, BAY_SHARE_IN_FLIGHT), 0);
    bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, -1);
    bay__shares_add(s, 7, &p2, BAY_SHARE_IN_FLIGHT, -1);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_IN_FLIGHT), 1);
    cr_expect_eq(bay__shares_count(s, 7, &p2, BAY_SHARE_IN_FLIGHT), 0);
    bay__shares_free(s);
}

Test(share, calls_waiting_are_counted_apart_from_calls_in_flight)
{
    bay__shares *s = bay__shares_new();
    cr_assert_eq(bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, 1), 0);
    cr_assert_eq(bay__shares_add(s, 7, &p1, BAY_SHARE_WAITING, 1), 0);
    cr_assert_eq(bay__shares_add(s, 7, &p1, BAY_SHARE_WAITING, 1), 0);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_IN_FLIGHT), 1);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_WAITING), 2);
    bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, -1);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_WAITING), 2, "the waiting stay counted");
    bay__shares_add(s, 7, &p1, BAY_SHARE_WAITING, -1);
    bay__shares_add(s, 7, &p1, BAY_SHARE_WAITING, -1);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_WAITING), 0);
    bay__shares_free(s);
}

Test(share, counting_down_what_was_never_counted_changes_nothing)
{
    bay__shares *s = bay__shares_new();
    bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, -1);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_IN_FLIGHT), 0);
    bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, 1);
    bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, -1);
    bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, -1);
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_IN_FLIGHT), 0);
    cr_assert_eq(bay__shares_add(s, 7, &p1, BAY_SHARE_IN_FLIGHT, 1), 0, "a connection forgotten at 0 is counted afresh");
    cr_expect_eq(bay__shares_count(s, 7, &p1, BAY_SHARE_IN_FLIGHT), 1);
    bay__shares_free(s);
}

Test(share, many_providers_of_one_connection_and_many_connections)
{
    bay__shares *s = bay__shares_new();
    static char providers[100];
    for (uint64_t session = 1; session <= 50; session++)
        for (int i = 0; i < 100; i++)
            cr_assert_eq(bay__shares_add(s, session, &providers[i], BAY_SHARE_IN_FLIGHT, 1), 0);
    for (uint64_t session = 1; session <= 50; session++)
        for (int i = 0; i < 100; i++)
            cr_assert_eq(bay__shares_count(s, session, &providers[i], BAY_SHARE_IN_FLIGHT), 1);
    for (uint64_t session = 1; session <= 50; session += 2)
        for (int i = 0; i < 100; i++)
            bay__shares_add(s, session, &providers[i], BAY_SHARE_IN_FLIGHT, -1);
    cr_expect_eq(bay__shares_count(s, 1, &providers[42], BAY_SHARE_IN_FLIGHT), 0);
    cr_expect_eq(bay__shares_count(s, 2, &providers[42], BAY_SHARE_IN_FLIGHT), 1);
    bay__shares_free(s); /* frees what is still counted: LeakSanitizer says otherwise */
}

Test(share, a_host_waits_only_past_its_share_while_the_provider_is_shared)
{
    cr_expect_not(bay__share_must_wait(0, 5, 1, true, false), "its first call goes, however busy the provider");
    cr_expect_not(bay__share_must_wait(BAY_SHARE_CALLS, BAY_SHARE_CALLS, 1, false, false), "alone: no limit");
    cr_expect_not(bay__share_must_wait(3, 3, 1, false, false), "alone at the provider: no limit");
    cr_expect(bay__share_must_wait(BAY_SHARE_CALLS, BAY_SHARE_CALLS + 1, 1, false, false), "another caller has a call there");
    cr_expect(bay__share_must_wait(BAY_SHARE_CALLS, BAY_SHARE_CALLS, 1, true, false), "another host called it lately");
    cr_expect(bay__share_must_wait(4, 5, 1, false, false));
    cr_expect_not(bay__share_must_wait(4, 5, 1, true, true), "a host serving a call is never held: the call may wait for it");
    cr_expect_not(bay__share_must_wait(BAY_SHARE_CALLS, 3, 4, true, false), "a share per worker: 4 replicas serve 4");
    cr_expect_not(bay__share_must_wait(3 * BAY_SHARE_CALLS, 5, 4, true, false));
    cr_expect(bay__share_must_wait(4 * BAY_SHARE_CALLS, 5, 4, true, false), "past a share at each replica it waits");
}

Test(share, a_provider_is_shared_while_another_host_called_it_within_the_window)
{
    bay__share_callers c = {0};
    cr_expect_not(bay__share_shared(&c, 7, 1000), "nobody called it");
    bay__share_called(&c, 7, 1000);
    bay__share_called(&c, 7, 1001);
    cr_expect_not(bay__share_shared(&c, 7, 1002), "only this host called it");
    bay__share_called(&c, 9, 1010);
    cr_expect(bay__share_shared(&c, 7, 1020), "host 9 called it 10 ms ago");
    cr_expect(bay__share_shared(&c, 9, 1020), "host 7 called it 19 ms ago");
    bay__share_called(&c, 9, 1000 + BAY_SHARE_WINDOW_MS + 5);
    cr_expect_not(bay__share_shared(&c, 9, 1000 + BAY_SHARE_WINDOW_MS + 5), "host 7's last call is older than the window");
    cr_expect(bay__share_shared(&c, 7, 1000 + BAY_SHARE_WINDOW_MS + 5), "host 9 called it just now");
    bay__share_called(&c, 11, 2000);
    bay__share_called(&c, 12, 2001);
    cr_expect(bay__share_shared(&c, 11, 2002), "a third host pushes the oldest out: 12 is there");
    cr_expect(bay__share_shared(&c, 7, 2002), "7 sees 11 and 12");
}

Test(share, free_takes_null)
{
    bay__shares_free(NULL);
}
