/* tests/unit/test_transition.c — what loading a plugin comes to in each state, and how a dependency stands (broker/transition.c). */
#include <criterion/criterion.h>

#include "transition.h"

#define NSTATES (PS_INVALID + 1)

Test(transition, every_state_has_its_name)
{
    const char *names[NSTATES] = {"available", "disabled", "stopped", "waiting", "starting",
                                  "loaded",    "unloading", "failed", "invalid"};
    for (int s = 0; s < NSTATES; s++)
        cr_expect_str_eq(plugin_state_name((plugin_state)s), names[s]);
    cr_expect_str_eq(plugin_state_name((plugin_state)NSTATES), "unknown");
}

Test(transition, loading_in_each_state_asked_plainly_and_just_installed_or_enabled)
{
    static const struct {
        plugin_state s;
        load_step plain, fresh;
    } table[] = {
        {PS_AVAILABLE, LOAD_NOT_INSTALLED, LOAD_START},
        {PS_DISABLED, LOAD_DISABLED, LOAD_START},
        {PS_STOPPED, LOAD_START, LOAD_START},
        {PS_WAITING, LOAD_START, LOAD_START}, /* its dependencies are checked again */
        {PS_STARTING, LOAD_NOTHING, LOAD_NOTHING},
        {PS_LOADED, LOAD_NOTHING, LOAD_NOTHING},
        {PS_UNLOADING, LOAD_AFTER_UNLOAD, LOAD_AFTER_UNLOAD},
        {PS_FAILED, LOAD_START, LOAD_START},
        {PS_INVALID, LOAD_INVALID, LOAD_INVALID},
    };
    cr_assert_eq(sizeof table / sizeof *table, NSTATES, "every state is in the table");
    for (size_t i = 0; i < NSTATES; i++) {
        cr_expect_eq(transition_load(table[i].s, false), table[i].plain, "load when %s", plugin_state_name(table[i].s));
        cr_expect_eq(transition_load(table[i].s, true), table[i].fresh, "fresh load when %s",
                     plugin_state_name(table[i].s));
    }
}

Test(transition, a_dependency_in_each_state_with_and_without_a_restart_coming)
{
    static const struct {
        plugin_state s;
        dep_step settled, restarting;
        bool in_use;
    } table[] = {
        {PS_AVAILABLE, DEP_UNAVAILABLE, DEP_UNAVAILABLE, false},
        {PS_DISABLED, DEP_UNAVAILABLE, DEP_UNAVAILABLE, false},
        {PS_STOPPED, DEP_LOAD_FIRST, DEP_LOAD_FIRST, false},
        {PS_WAITING, DEP_PENDING, DEP_PENDING, true},
        {PS_STARTING, DEP_PENDING, DEP_PENDING, true},
        {PS_LOADED, DEP_READY, DEP_READY, true},
        {PS_UNLOADING, DEP_UNAVAILABLE, DEP_UNAVAILABLE, false},
        {PS_FAILED, DEP_UNAVAILABLE, DEP_PENDING, false},
        {PS_INVALID, DEP_UNAVAILABLE, DEP_UNAVAILABLE, false},
    };
    cr_assert_eq(sizeof table / sizeof *table, NSTATES, "every state is in the table");
    for (size_t i = 0; i < NSTATES; i++) {
        const char *name = plugin_state_name(table[i].s);
        cr_expect_eq(transition_dependency(table[i].s, false), table[i].settled, "dependency %s", name);
        cr_expect_eq(transition_dependency(table[i].s, true), table[i].restarting, "dependency %s, restarting", name);
        cr_expect_eq(transition_in_use(table[i].s), table[i].in_use, "in use when %s", name);
    }
}
