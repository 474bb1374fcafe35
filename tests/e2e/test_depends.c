/* tests/e2e/test_depends.c — dependencies between plugins: load order, ranges, cycles, host versions, in-use protection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* A manifest for a clone of test/ctxall (its one function is ctx_who). */
static const char *manifest(char *buf, size_t len, const char *version, int order, const char *deps, const char *host)
{
    snprintf(buf, len,
             "{\"name\": \"dep test\", \"version\": \"%s\", \"language\": \"c\", \"entry\": \"plugin.so\","
             " \"order\": %d, \"dependencies\": {%s}%s%s%s,"
             " \"provides\": [{\"name\": \"dep.ev\", \"kind\": \"event\", \"function\": \"ctx_who\"}]}",
             version, order, deps, host ? ", \"host\": \"" : "", host ? host : "", host ? "\"" : "");
    return buf;
}

static void add(const char *id, const char *version, int order, const char *deps, const char *host)
{
    char m[1024];
    h_clone_plugin(&h, "test/ctxall", id, manifest(m, sizeof m, version, order, deps, host));
}

static void start(void)
{
    h_setup(&h, NULL);
}

static void go(void)
{
    h_start(&h, NULL);
    c = h_connect(&h, "test-depends");
}

static void stop(void)
{
    if (c)
        bay_close(c);
    h_cleanup(&h);
}

TestSuite(depends, .init = start, .fini = stop, .timeout = 120);

static void expect_state(const char *id, const char *state, const char *needle)
{
    cr_assert(h_wait_state(c, id, state, H_WAIT_MS), "%s never became %s", id, state);
    char s[64], reason[512];
    h_plugin_state(c, id, s, sizeof s, reason, sizeof reason);
    if (needle)
        cr_assert(strstr(reason, needle), "%s: reason \"%s\" lacks \"%s\"", id, reason, needle);
}

Test(depends, dependencies_load_first_and_come_first_in_load_order)
{
    add("z/base", "1.2.0", 100, "", NULL);
    add("a/app", "1.0.0", 0, "\"z/base\": \"^1.0\"", NULL);
    go();
    expect_state("a/app", "loaded", NULL);
    expect_state("z/base", "loaded", NULL);
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(bay_call(c, "dep.ev", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 2);
    cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(res, 0), "plugin"), NULL), "z/base",
                     "the dependency comes first although its order is 100");
    cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(res, 1), "plugin"), NULL), "a/app");
    bay_value_free(res);
}

Test(depends, a_missing_dependency_names_both_sides_and_others_load)
{
    add("a/needy", "1.0.0", 0, "\"no/such\": \"^1\"", NULL);
    add("b/fine", "1.0.0", 0, "", NULL);
    go();
    expect_state("a/needy", "failed", "a/needy needs no/such (^1), which is not in");
    expect_state("b/fine", "loaded", NULL);
}

Test(depends, a_version_outside_the_range_is_refused)
{
    add("z/base", "1.2.0", 0, "", NULL);
    add("a/app", "1.0.0", 0, "\"z/base\": \">=2.0.0 <3\"", NULL);
    go();
    expect_state("a/app", "failed", "a/app needs z/base >=2.0.0 <3, but z/base is version 1.2.0");
    expect_state("z/base", "loaded", NULL);
}

Test(depends, a_cycle_is_refused_and_named)
{
    add("c/one", "1.0.0", 0, "\"c/two\": \"*\"", NULL);
    add("c/two", "1.0.0", 0, "\"c/one\": \"*\"", NULL);
    add("b/fine", "1.0.0", 0, "", NULL);
    go();
    expect_state("c/one", "invalid", "dependency cycle: c/one -> c/two -> c/one");
    expect_state("c/two", "invalid", "dependency cycle");
    expect_state("b/fine", "loaded", NULL);
}

Test(depends, a_plugin_for_another_plugbay_version_is_refused)
{
    add("h/future", "1.0.0", 0, "", ">=9.0.0");
    add("h/now", "1.0.0", 0, "", "^0.1");
    go();
    expect_state("h/future", "invalid", "works with plugbay >=9.0.0, but this is plugbay 0.1.0");
    expect_state("h/now", "loaded", NULL);
}

Test(depends, a_plugin_in_use_is_not_unloaded_until_its_users_are)
{
    add("z/base", "1.2.0", 0, "", NULL);
    add("a/app", "1.0.0", 0, "\"z/base\": \"^1\"", NULL);
    go();
    expect_state("a/app", "loaded", NULL);
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "z/base", &err), BAY_EBUSY);
    cr_assert(strstr(err.message, "z/base is in use by a/app"), "message: %s", err.message);
    cr_assert_eq(h_command(c, "disable", "z/base", &err), BAY_EBUSY);
    expect_state("z/base", "loaded", NULL);
    cr_assert_eq(h_command(c, "reload", "z/base", &err), 0, "reload keeps it available: %s", err.message);
    cr_assert_eq(h_command(c, "unload", "a/app", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "unload", "z/base", &err), 0, "%s", err.message);
    /* Loading the dependent again loads its dependency first. */
    cr_assert_eq(h_command(c, "load", "a/app", &err), 0, "%s", err.message);
    expect_state("a/app", "loaded", NULL);
    expect_state("z/base", "loaded", NULL);
}
