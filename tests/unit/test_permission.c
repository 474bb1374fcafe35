/* tests/unit/test_permission.c — what a plugin asks for, what a grant gives it, and what a grant covers (broker/permission.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "permission.h"

static const char manifest[] =
    "{\"name\": \"x\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\","
    " \"permissions\": [\"call:greet\", \"fs.read:/etc/hostname\", \"call:greet\"],"
    " \"provides\": [{\"name\": \"a.one\", \"kind\": \"handle\", \"function\": \"one\"},"
    "              {\"name\": \"a.two\", \"kind\": \"event\", \"function\": \"two\"}]}";

static bay__manifest *m;

static void setup(void)
{
    bay_error err = {0};
    cr_assert_eq(bay__manifest_parse(manifest, "x/plugin.json", "/p/x", "x", &m, &err), 0, "%s", err.message);
}

static void teardown(void)
{
    bay__manifest_free(m);
}

TestSuite(permission, .init = setup, .fini = teardown);

/* A grant, what is wanted, and whether the one covers the other. */
static const struct {
    const char *granted, *wanted;
    bool covers;
} matches[] = {
    {"call:greet", "call:greet", true},
    {"call:greet", "call:greeting", false},
    {"call:greeting", "call:greet", false},
    {"call:*", "call:greet", true},
    {"call:*", "provide:greet", false},
    {"call:gr*", "call:greet", true},
    {"call:gr*", "call:gr", true},
    {"call:gr*", "call:g", false},
    {"*", "provide:anything", true},
    {"", "", true},
    {"", "call:greet", false},
    {"call:greet*x", "call:greet*x", true}, /* '*' is a wildcard only at the end */
    {"call:greet*x", "call:greetyx", false},
    {"CALL:greet", "call:greet", false},
};

Test(permission, a_grant_covers_what_is_equal_or_starts_with_its_prefix)
{
    for (size_t i = 0; i < sizeof matches / sizeof *matches; i++)
        cr_expect_eq(permission_match(matches[i].granted, matches[i].wanted), matches[i].covers, "\"%s\" covers \"%s\"",
                     matches[i].granted, matches[i].wanted);
}

Test(permission, granted_looks_through_the_whole_list_for_kind_and_name)
{
    char *list[] = {"fs.read:/etc/hostname", "call:gr*", "provide:a.one", NULL};
    cr_expect(permission_granted(list, "call", "greet"));
    cr_expect(permission_granted(list, "provide", "a.one"));
    cr_expect_not(permission_granted(list, "provide", "a.two"));
    cr_expect_not(permission_granted(list, "call", "other"));
    cr_expect_not(permission_granted(NULL, "call", "greet"), "nothing granted covers nothing");
    char *none[] = {NULL};
    cr_expect_not(permission_granted(none, "call", "greet"));
}

Test(permission, requested_is_its_permissions_then_a_provide_for_each_extension_point_each_once)
{
    char **r = permission_requested(m);
    const char *want[] = {"call:greet", "fs.read:/etc/hostname", "provide:a.one", "provide:a.two", NULL};
    for (size_t i = 0; want[i]; i++)
        cr_assert_str_eq(r[i], want[i]);
    cr_assert_null(r[4]);
    bay__strv_free(r);
}

/* choose runs permission_choose with grant given as JSON (NULL: none). */
static int choose(const char *grant_json, bool all, char ***out, bay_error *err)
{
    bay_value *grant = NULL;
    char why[256];
    if (grant_json)
        cr_assert_eq(bay_value_from_json(grant_json, &grant, why, sizeof why), 0, "%s", why);
    int rc = permission_choose("x", m, grant, all, out, err);
    bay_value_free(grant);
    return rc;
}

Test(permission, choose_gives_what_was_asked_and_granted_or_says_why_not)
{
    char **out = NULL;
    bay_error err;
    cr_assert_eq(choose(NULL, true, &out, &err), 0);
    cr_expect_str_eq(out[2], "provide:a.one", "--grant-all gives all it asks for");
    cr_expect_null(out[4]);
    bay__strv_free(out);

    cr_assert_eq(choose("[\"provide:a.two\", \"call:greet\", \"provide:a.two\"]", false, &out, &err), 0);
    cr_expect_str_eq(out[0], "provide:a.two");
    cr_expect_str_eq(out[1], "call:greet");
    cr_expect_null(out[2], "each once");
    bay__strv_free(out);

    cr_expect_eq(choose("[]", false, &out, &err), BAY_EPERM);
    cr_expect_str_eq(err.message, "x asks for: call:greet, fs.read:/etc/hostname, provide:a.one, provide:a.two; grant "
                                  "them with --grant PERMISSION (each) or --grant-all");
    cr_expect_eq(choose(NULL, false, &out, &err), BAY_EPERM, "no grant at all");

    cr_expect_eq(choose("[\"call:*\"]", false, &out, &err), BAY_EINVAL, "only what it asks for, no wildcard");
    cr_expect_str_eq(err.message, "x does not ask for \"call:*\" (it asks for: call:greet, fs.read:/etc/hostname, "
                                  "provide:a.one, provide:a.two)");
    cr_expect_eq(choose("[42]", false, &out, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "\"(not a string)\""), "%s", err.message);
}

Test(permission, unconsented_is_what_a_new_manifest_asks_that_the_old_did_not_and_no_grant_covers)
{
    static const char changed[] =
        "{\"name\": \"x\", \"version\": \"1.1.0\", \"language\": \"c\", \"entry\": \"plugin.so\","
        " \"permissions\": [\"call:greet\", \"call:host.now\", \"net.connect:db:5432\", \"process.spawn\"],"
        " \"provides\": [{\"name\": \"a.one\", \"kind\": \"handle\", \"function\": \"one\"},"
        "              {\"name\": \"a.three\", \"kind\": \"handle\", \"function\": \"three\"}]}";
    bay__manifest *now = NULL;
    bay_error err = {0};
    cr_assert_eq(bay__manifest_parse(changed, "x/plugin.json", "/p/x", "x", &now, &err), 0, "%s", err.message);
    char *granted[] = {"call:host.*", "provide:a.one", NULL};
    char **u = permission_unconsented(m, now, granted);
    /* call:greet was asked before (granted or not), call:host.now is covered by call:host.* */
    const char *want[] = {"net.connect:db:5432", "process.spawn", "provide:a.three", NULL};
    for (size_t i = 0; want[i]; i++)
        cr_assert_str_eq(u[i], want[i]);
    cr_assert_null(u[3]);
    bay__strv_free(u);
    u = permission_unconsented(now, now, NULL);
    cr_assert_null(u[0], "the same manifest asks nothing new");
    bay__strv_free(u);
    u = permission_unconsented(NULL, m, NULL);
    cr_assert_str_eq(u[0], "call:greet", "without an old manifest everything not granted is new");
    bay__strv_free(u);
    bay__manifest_free(now);
}

Test(permission, the_grant_command_runs_as_written_in_a_shell)
{
    char cmd[256];
    char *plain[] = {"call:host.now", "provide:re.started", NULL};
    permission_grant_command("re/hello", plain, cmd, sizeof cmd);
    cr_assert_str_eq(cmd, "plugbay grant re/hello --grant call:host.now --grant provide:re.started");
    char *special[] = {"call:editor.*", "fs.read:/home/ada/my notes", "python.import:it's", NULL};
    permission_grant_command("x", special, cmd, sizeof cmd);
    cr_assert_str_eq(cmd, "plugbay grant x --grant 'call:editor.*' --grant 'fs.read:/home/ada/my notes' --grant "
                          "'python.import:it'\\''s'");
    char small[20];
    permission_grant_command("re/hello", plain, small, sizeof small);
    cr_assert_str_eq(small, "plugbay grant re/he", "cut to fit");
}
