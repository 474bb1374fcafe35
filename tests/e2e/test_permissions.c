/* tests/e2e/test_permissions.c — consent at install, and the broker enforcing call: and provide: permissions. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static const char caller_greet_only[] =
    "{\"name\": \"narrow caller\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\","
    " \"permissions\": [\"call:greet\"],"
    " \"provides\": [{\"name\": \"narrow.via\", \"kind\": \"handle\", \"function\": \"caller_via\"}]}";

static const char caller_nothing[] =
    "{\"name\": \"no caller\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\","
    " \"provides\": [{\"name\": \"none.via\", \"kind\": \"handle\", \"function\": \"caller_via\"}]}";

static const char caller_asks_math[] =
    "{\"name\": \"math caller\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\","
    " \"permissions\": [\"call:math.*\"],"
    " \"provides\": [{\"name\": \"asks.via\", \"kind\": \"handle\", \"function\": \"caller_via\"}]}";

static void start(void)
{
    const char *ids[] = {"example/hello", "example/audit", NULL};
    h_setup(&h, ids);
    h_clone_plugin(&h, "test/caller", "perm/narrow", caller_greet_only);
    h_clone_plugin(&h, "test/caller", "perm/none", caller_nothing);
    h_clone_plugin(&h, "test/caller", "perm/asks", caller_asks_math);
    h_start(&h, NULL);
    c = h_connect(&h, "test-permissions");
    const char *loaded[] = {"example/hello", "example/audit", "perm/narrow", "perm/none", "perm/asks", NULL};
    h_wait_loaded(c, loaded);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(permissions, .init = start, .fini = stop, .timeout = 120);

/* via asks plugin extension point `via` to call ext with one string argument. */
static int via(const char *via_ext, const char *ext, bay_value **res, bay_error *err)
{
    bay_value *args = bay_array(), *inner = bay_array();
    bay_array_push(inner, bay_str("x"));
    bay_array_push(args, bay_str(ext));
    bay_array_push(args, inner);
    int rc = bay_call(c, via_ext, args, NULL, res, err);
    bay_value_free(args);
    return rc;
}

Test(permissions, a_plugin_calls_only_what_it_was_granted)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(via("narrow.via", "greet", &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "Hello, x!");
    bay_value_free(res);
    res = NULL;
    int rc = via("narrow.via", "math.add", &res, &err);
    cr_assert_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "perm/narrow may not call \"math.add\"") && strstr(err.message, "call:math.add"),
              "message: %s", err.message);
    rc = via("none.via", "greet", &res, &err);
    cr_assert_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "perm/none may not call \"greet\": its manifest does not ask for call:greet"),
              "message: %s", err.message);
    /* The refusals hurt nobody: the plugins still serve. */
    cr_assert_eq(via("narrow.via", "greet", &res, &err), 0, "%s", err.message);
    bay_value_free(res);
}

static int install(const char *id, const char *grant, bool all, bay_error *err)
{
    bay_value *a = bay_map(), *g = bay_array();
    bay_map_set(a, "id", bay_str(id));
    if (grant)
        bay_array_push(g, bay_str(grant));
    bay_map_set(a, "grant", g);
    bay_map_set(a, "grant_all", bay_bool(all));
    int rc = bay_command(c, "install", a, 30000, NULL, err);
    bay_value_free(a);
    return rc;
}

Test(permissions, install_asks_for_consent_and_grants_only_what_was_asked)
{
    bay_error err;
    cr_assert_eq(h_command(c, "uninstall", "example/hello", &err), 0, "%s", err.message);
    cr_assert_eq(install("example/hello", NULL, false, &err), BAY_EPERM);
    cr_assert(strstr(err.message, "example/hello asks for: provide:greet, provide:app.started") &&
                  strstr(err.message, "--grant-all"),
              "message: %s", err.message);
    cr_assert_eq(install("example/hello", "net.connect:evil:25", false, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "does not ask for \"net.connect:evil:25\""), "message: %s", err.message);
    char state[64];
    h_plugin_state(c, "example/hello", state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "available", "a refused install changes nothing");
    cr_assert_eq(install("example/hello", NULL, true, &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
}

Test(permissions, a_provide_not_granted_fails_the_load_until_granted)
{
    bay_error err;
    cr_assert_eq(h_command(c, "uninstall", "example/hello", &err), 0, "%s", err.message);
    cr_assert_eq(install("example/hello", "provide:greet", false, &err), BAY_EUNAVAIL);
    cr_assert(strstr(err.message, "was not granted provide:app.started"), "message: %s", err.message);
    bay_value *a = bay_map(), *g = bay_array();
    bay_map_set(a, "id", bay_str("example/hello"));
    bay_array_push(g, bay_str("provide:app.started"));
    bay_map_set(a, "grant", g);
    cr_assert_eq(bay_command(c, "grant", a, 30000, NULL, &err), 0, "%s", err.message);
    bay_value_free(a);
    cr_assert_eq(h_command(c, "enable", "example/hello", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "again", 5000, out, sizeof out, &err), 0, "%s", err.message);
}

Test(permissions, the_grant_a_refused_call_suggests_lets_it_call_at_once)
{
    bay_error err;
    cr_assert_eq(h_command(c, "uninstall", "perm/asks", &err), 0, "%s", err.message);
    cr_assert_eq(install("perm/asks", "provide:asks.via", false, &err), 0, "%s", err.message);
    bay_value *res = NULL;
    int rc = via("asks.via", "math.add", &res, &err);
    cr_assert_eq(rc, BAY_EPERM, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "`plugbay grant perm/asks --grant call:math.*`"), "message: %s", err.message);
    char out[512], why[1024];
    cr_assert_eq(h_run_suggested(&h, err.message, 0, out, sizeof out, why, sizeof why), 0, "%s", why);
    rc = via("asks.via", "math.add", &res, &err);
    cr_assert_neq(rc, BAY_EPERM, "still refused: %s", err.message);
    bay_value_free(res);
}
