/* tests/unit/test_call_stop.c — why a running call must stop (bridges/common/send.c): its deadline before a cancel. */
#include <criterion/criterion.h>

#include "clock.h"
#include "send.h"

static bay_invocation call_with(int64_t deadline_ns, int stop)
{
    bay_invocation c = {.name = "slow.sleep", .deadline_ns = deadline_ns};
    atomic_init(&c.stop, stop);
    return c;
}

Test(call_stop, a_call_before_its_deadline_and_not_cancelled_runs_on)
{
    bay_invocation c = call_with(bay__now_ns() + 60 * 1000000000LL, 0);
    cr_assert_eq(bay__call_stop_code(&c), 0);
    cr_assert_not(bay_call_cancelled(&c));
    cr_assert_gt(bay_call_remaining_ms(&c), 59000);
}

Test(call_stop, a_call_without_a_deadline_stops_only_when_cancelled)
{
    bay_invocation c = call_with(0, 0);
    cr_assert_eq(bay__call_stop_code(&c), 0);
    cr_assert_eq(bay_call_remaining_ms(&c), INT_MAX);
    atomic_store(&c.stop, BAY_ECANCELED);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ECANCELED);
    cr_assert_eq(bay_call_cancelled(&c), BAY_ECANCELED);
}

Test(call_stop, a_cancel_before_the_deadline_is_a_cancel)
{
    bay_invocation c = call_with(bay__now_ns() + 60 * 1000000000LL, BAY_ECANCELED);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ECANCELED);
}

/* plugbayd cancels a call whose deadline passed: the deadline is still the reason. */
Test(call_stop, a_passed_deadline_wins_over_the_cancel_that_follows_it)
{
    bay_invocation c = call_with(bay__now_ns() - 1, BAY_ECANCELED);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ETIMEDOUT);
    cr_assert(bay_call_cancelled(&c));
    cr_assert_eq(bay_call_remaining_ms(&c), 0);
}

/* plugbayd's deadline comes a little before the worker's own (the call took
 * time to reach it): its cancel says the deadline was why. */
Test(call_stop, a_cancel_at_plugbayds_deadline_says_the_deadline_before_the_workers_own)
{
    bay_invocation c = call_with(bay__now_ns() + 60 * 1000000000LL, BAY_ETIMEDOUT);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ETIMEDOUT);
    cr_assert_eq(bay_call_cancelled(&c), BAY_ETIMEDOUT);
}
