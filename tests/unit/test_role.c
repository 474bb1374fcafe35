/* tests/unit/test_role.c — roles: names, what each includes, and who a local peer is (broker/role.c). */
#include <criterion/criterion.h>

#include "role.h"

Test(role, names_read_back_and_anything_else_is_none)
{
    static const char *const names[] = {"observer", "host", "admin"};
    for (int i = 0; i < 3; i++)
        cr_expect_str_eq(bay__role_name(bay__role_parse(names[i])), names[i]);
    cr_expect_eq(bay__role_parse("root"), BAY_ROLE_NONE);
    cr_expect_eq(bay__role_parse("Admin"), BAY_ROLE_NONE);
    cr_expect_eq(bay__role_parse(""), BAY_ROLE_NONE);
    cr_expect_eq(bay__role_parse(NULL), BAY_ROLE_NONE);
    cr_expect_str_eq(bay__role_name(BAY_ROLE_NONE), "none");
}

Test(role, each_role_includes_those_below_it_and_none_allows_nothing)
{
    static const struct {
        bay__role have, need;
        bool allowed;
    } cases[] = {
        {BAY_ROLE_ADMIN, BAY_ROLE_ADMIN, true},        {BAY_ROLE_ADMIN, BAY_ROLE_HOST, true},
        {BAY_ROLE_ADMIN, BAY_ROLE_OBSERVER, true},     {BAY_ROLE_HOST, BAY_ROLE_ADMIN, false},
        {BAY_ROLE_HOST, BAY_ROLE_HOST, true},          {BAY_ROLE_HOST, BAY_ROLE_OBSERVER, true},
        {BAY_ROLE_OBSERVER, BAY_ROLE_HOST, false},     {BAY_ROLE_OBSERVER, BAY_ROLE_OBSERVER, true},
        {BAY_ROLE_NONE, BAY_ROLE_OBSERVER, false},     {BAY_ROLE_NONE, BAY_ROLE_NONE, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(bay__role_allows(cases[i].have, cases[i].need), cases[i].allowed, "%s needing %s",
                     bay__role_name(cases[i].have), bay__role_name(cases[i].need));
}

Test(role, plugbayds_own_user_and_root_are_admins_others_what_they_were_given)
{
    static const struct {
        uint32_t uid, own;
        bay__role configured, want;
    } cases[] = {
        {1000, 1000, BAY_ROLE_NONE, BAY_ROLE_ADMIN},      {0, 1000, BAY_ROLE_NONE, BAY_ROLE_ADMIN},
        {1001, 1000, BAY_ROLE_NONE, BAY_ROLE_NONE},       {1001, 1000, BAY_ROLE_OBSERVER, BAY_ROLE_OBSERVER},
        {1001, 1000, BAY_ROLE_HOST, BAY_ROLE_HOST},       {65534, 0, BAY_ROLE_NONE, BAY_ROLE_NONE},
        {1000, 1000, BAY_ROLE_OBSERVER, BAY_ROLE_ADMIN}, /* its own user cannot be demoted out of its broker */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_expect_eq(bay__role_of_uid(cases[i].uid, cases[i].own, cases[i].configured), cases[i].want,
                     "uid %u under uid %u", cases[i].uid, cases[i].own);
}
