/* tests/unit/test_call_stop.c — why a running call must stop (bridges/common/call.c): its deadline before a cancel. */
#include <criterion/criterion.h>

#include "clock.h"
#include "worker_internal.h"

static bay_invocation call_with(int64_t deadline_ns, bool cancelled)
{
    bay_invocation c = {.name = "slow.sleep", .deadline_ns = deadline_ns};
    atomic_init(&c.cancelled, cancelled);
    return c;
}

Test(call_stop, a_call_before_its_deadline_and_not_cancelled_runs_on)
{
    bay_invocation c = call_with(bay__now_ns() + 60 * 1000000000LL, false);
    cr_assert_eq(bay__call_stop_code(&c), 0);
    cr_assert_not(bay_call_cancelled(&c));
    cr_assert_gt(bay_call_remaining_ms(&c), 59000);
}

Test(call_stop, a_call_without_a_deadline_stops_only_when_cancelled)
{
    bay_invocation c = call_with(0, false);
    cr_assert_eq(bay__call_stop_code(&c), 0);
    cr_assert_eq(bay_call_remaining_ms(&c), INT_MAX);
    atomic_store(&c.cancelled, true);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ECANCELED);
    cr_assert(bay_call_cancelled(&c));
}

Test(call_stop, a_cancel_before_the_deadline_is_a_cancel)
{
    bay_invocation c = call_with(bay__now_ns() + 60 * 1000000000LL, true);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ECANCELED);
}

/* plugbayd cancels a call whose deadline passed: the deadline is still the reason. */
Test(call_stop, a_passed_deadline_wins_over_the_cancel_that_follows_it)
{
    bay_invocation c = call_with(bay__now_ns() - 1, true);
    cr_assert_eq(bay__call_stop_code(&c), BAY_ETIMEDOUT);
    cr_assert(bay_call_cancelled(&c));
    cr_assert_eq(bay_call_remaining_ms(&c), 0);
}
