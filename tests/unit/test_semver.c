/* tests/unit/test_semver.c — semver parsing, precedence and ranges (broker/semver.c). */
#include <criterion/criterion.h>

#include <plugbay/error.h>
#include <string.h>

#include "semver.h"

static bay__semver ver(const char *s)
{
    bay__semver v;
    cr_assert_eq(bay__semver_parse(s, &v), 0, "parse \"%s\"", s);
    return v;
}

Test(semver, parses_full_versions)
{
    bay__semver v = ver("10.20.30");
    cr_expect_eq(v.major, 10);
    cr_expect_eq(v.minor, 20);
    cr_expect_eq(v.patch, 30);
    cr_expect_str_empty(v.pre);

    v = ver("1.0.0-alpha.1+build.5");
    cr_expect_str_eq(v.pre, "alpha.1");
    v = ver("0.0.0");
    cr_expect_eq(v.major + v.minor + v.patch, 0);
    v = ver("18446744073709551615.0.0");
    cr_expect_eq(v.major, UINT64_MAX);
}

Test(semver, accepts_semver_org_examples)
{
    const char *good[] = {"1.0.0-alpha", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--",
                          "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3---117B344092BD",
                          "1.0.0-0A.is.legal"};
    bay__semver v;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect_eq(bay__semver_parse(good[i], &v), 0, "\"%s\" should parse", good[i]);
}

Test(semver, refuses_malformed_versions)
{
    const char *bad[] = {"1.2", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "a.b.c", "", "1.2.3.4",
                         "1.2.3-01", "1.2.3+", "1.2.3-a..b", " 1.2.3", "1.2.3 ", "-1.2.3", "v1.2.3",
                         "1.2.3-a+b+c", "1.2.3-é", "18446744073709551616.0.0", "1..3", "1.2.x"};
    bay__semver v;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(bay__semver_parse(bad[i], &v), BAY_EINVAL, "\"%s\" should be refused", bad[i]);
    cr_expect_eq(bay__semver_parse(NULL, &v), BAY_EINVAL);
}

Test(semver, refuses_a_pre_release_longer_than_the_struct_holds)
{
    char s[128] = "1.0.0-";
    bay__semver v;
    memset(s + 6, 'a', sizeof v.pre);
    cr_expect_eq(bay__semver_parse(s, &v), BAY_EINVAL);
    s[6 + sizeof v.pre - 1] = '\0';
    cr_expect_eq(bay__semver_parse(s, &v), 0);
    cr_expect_eq(strlen(v.pre), sizeof v.pre - 1);
}

Test(semver, orders_by_precedence_as_semver_org_lists)
{
    const char *order[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                           "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
                           "2.0.0", "2.1.0", "2.1.1", "10.0.0"};
    size_t n = sizeof order / sizeof *order;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            bay__semver a = ver(order[i]), b = ver(order[j]);
            int c = bay__semver_cmp(&a, &b);
            cr_expect_eq(c < 0, i < j, "%s vs %s", order[i], order[j]);
            cr_expect_eq(c == 0, i == j, "%s vs %s", order[i], order[j]);
        }
}

Test(semver, ignores_build_metadata_in_precedence)
{
    bay__semver a = ver("1.0.0+a"), b = ver("1.0.0+b.2");
    cr_expect_eq(bay__semver_cmp(&a, &b), 0);
}

Test(semver, compares_numeric_identifiers_numerically)
{
    bay__semver a = ver("1.0.0-rc.9"), b = ver("1.0.0-rc.10"), c = ver("1.0.0-9"), d = ver("1.0.0-a");
    cr_expect_lt(bay__semver_cmp(&a, &b), 0);
    cr_expect_lt(bay__semver_cmp(&c, &d), 0);
}

struct sat {
    const char *range, *version;
    bool expect;
};

static void expect_table(const struct sat *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bay__semver v = ver(t[i].version);
        bay_error err = {0};
        cr_expect_eq(bay__semver_range_check(t[i].range, &err), 0, "range \"%s\": %s", t[i].range, err.message);
        cr_expect_eq(bay__semver_satisfies(&v, t[i].range), t[i].expect, "%s in \"%s\" should be %s",
                     t[i].version, t[i].range, t[i].expect ? "true" : "false");
    }
}

#define EXPECT_TABLE(t) expect_table(t, sizeof t / sizeof *t)

Test(semver_range, plain_comparators)
{
    static const struct sat t[] = {
        {">1.2.3", "1.2.4", true},    {">1.2.3", "1.2.3", false},  {">=1.2.3", "1.2.3", true},
        {">=1.2.3", "1.2.2", false},  {"<1.2.3", "1.2.2", true},   {"<1.2.3", "1.2.3", false},
        {"<=1.2.3", "1.2.3", true},   {"<=1.2.3", "1.2.4", false}, {"=1.2.3", "1.2.3", true},
        {"=1.2.3", "1.2.4", false},   {"1.2.3", "1.2.3+build", true}, {"1.2.3", "1.2.4", false},
        {">= 1.2.3", "1.3.0", true},  {"<  2", "1.9.9", true},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, partial_versions_in_comparators)
{
    static const struct sat t[] = {
        {"1", "1.9.9", true},      {"1", "2.0.0", false},    {"1.2", "1.2.9", true},
        {"1.2", "1.3.0", false},   {">1", "2.0.0", true},    {">1", "1.9.9", false},
        {">1.2", "1.3.0", true},   {">1.2", "1.2.9", false}, {">=1.2", "1.2.0", true},
        {"<1.2", "1.1.9", true},   {"<1.2", "1.2.0", false}, {"<=1.2", "1.2.9", true},
        {"<=1.2", "1.3.0", false}, {"<=1", "1.9.0", true},   {"<=1", "2.0.0", false},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, wildcards)
{
    static const struct sat t[] = {
        {"*", "0.0.1", true},       {"x", "99.0.0", true},     {"1.x", "1.5.0", true},
        {"1.x", "2.0.0", false},    {"1.2.*", "1.2.7", true},  {"1.2.*", "1.3.0", false},
        {"1.X.x", "1.0.0", true},   {">=*", "3.0.0", true},    {"^*", "3.0.0", true},
        {"*", "1.0.0-rc.1", false},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, caret)
{
    static const struct sat t[] = {
        {"^1.2.3", "1.2.3", true},  {"^1.2.3", "1.9.0", true},  {"^1.2.3", "2.0.0", false},
        {"^1.2.3", "1.2.2", false}, {"^0.2.3", "0.2.9", true},  {"^0.2.3", "0.3.0", false},
        {"^0.0.3", "0.0.3", true},  {"^0.0.3", "0.0.4", false}, {"^1.2", "1.2.0", true},
        {"^1.2", "1.1.9", false},   {"^0.0", "0.0.9", true},    {"^0.0", "0.1.0", false},
        {"^0", "0.9.0", true},      {"^0", "1.0.0", false},     {"^1.x", "1.0.0", true},
        {"^1.x", "2.0.0", false},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, tilde)
{
    static const struct sat t[] = {
        {"~1.2.3", "1.2.3", true},  {"~1.2.3", "1.2.9", true}, {"~1.2.3", "1.3.0", false},
        {"~1.2.3", "1.2.2", false}, {"~1.2", "1.2.0", true},   {"~1.2", "1.3.0", false},
        {"~1", "1.0.0", true},      {"~1", "1.9.9", true},     {"~1", "2.0.0", false},
        {"~0.2.3", "0.2.4", true},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, and_or)
{
    static const struct sat t[] = {
        {">=1.0.0 <2.0.0", "1.5.0", true},       {">=1.0.0 <2.0.0", "2.0.0", false},
        {">=1.0.0 <2.0.0", "0.9.0", false},      {"1.x || >=3.1.0", "3.2.0", true},
        {"1.x || >=3.1.0", "2.5.0", false},      {"1.x||3.x", "3.0.0", true},
        {"<1.0.0 || >2.0.0 <3.0.0", "2.5.0", true}, {"  ^1.0.0   ", "1.0.1", true},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, pre_releases_need_a_comparator_on_the_same_version)
{
    static const struct sat t[] = {
        {">=1.2.3-alpha.1", "1.2.3-alpha.2", true}, {">=1.2.3-alpha.1", "1.2.3-alpha.0", false},
        {">=1.2.3-alpha.1", "1.2.4-alpha.2", false}, {">=1.2.3-alpha.1", "1.2.4", true},
        {"^1.0.0", "1.5.0-rc.1", false},             {"<2.0.0", "2.0.0-rc.1", false},
        {"^1.2.3-beta", "1.2.3-beta.2", true},       {"^1.2.3-beta", "1.2.3", true},
        {"^1.2.3-beta", "2.0.0-rc", false},          {"1.0.0-rc.1", "1.0.0-rc.1", true},
        {"^1.0.0 || >=2.0.0-rc.1 <2.0.0", "2.0.0-rc.2", true},
    };
    EXPECT_TABLE(t);
}

Test(semver_range, refuses_invalid_ranges_with_a_reason)
{
    const char *bad[] = {"", "   ", ">", ">=", "1.2.3 ||", "|| 1.2.3", "1.2.3 | 2.0.0", "01.2",
                         "1.x.3", ">*", "<x", "1.2.3-", "abc", "^", "~", "1.2.3.4", "=>1.2.3",
                         "1.2-rc", "~>1.2", "1.2.3 - 2.0.0"};
    bay__semver v = ver("1.2.3");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bay_error err = {0};
        cr_expect_eq(bay__semver_range_check(bad[i], &err), BAY_EINVAL, "\"%s\" should be refused", bad[i]);
        cr_expect_str_not_empty(err.message, "\"%s\" has no reason", bad[i]);
        cr_expect_eq(err.code, BAY_EINVAL);
        cr_expect_not(bay__semver_satisfies(&v, bad[i]), "\"%s\" is invalid yet satisfied", bad[i]);
    }
    cr_expect_eq(bay__semver_range_check(NULL, NULL), BAY_EINVAL);
}

Test(semver_range, reasons_name_the_problem)
{
    bay_error err = {0};
    bay__semver_range_check(">=1.2 <2.x.1", &err);
    cr_expect(strstr(err.message, "\"2.x.1\"") != NULL, "%s", err.message);
    bay__semver_range_check("1.0.0 ||", &err);
    cr_expect(strstr(err.message, "empty alternative") != NULL, "%s", err.message);
    bay__semver_range_check("1.0.0 | 2.0.0", &err);
    cr_expect(strstr(err.message, "\"||\"") != NULL, "%s", err.message);
}
