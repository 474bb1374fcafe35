/* tests/e2e/test_types.c — typed extension points under the real broker: types a host declares
 * (bay_declare_typed) or a manifest gives; arguments and results checked in plugbayd for plugins in C, Lua,
 * Python and WebAssembly, a filter's arguments passed on, types that contradict each other, types that do not
 * parse, and --check-types off. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static const char *const langs[] = {"c", "lua", "python", "wasm"};

/* typed/lua is lua/basic whose manifest types lua.echo (a string in, anything out); bad/types has a schema
 * with a typo. */
static const char typed_manifest[] =
    "{\"name\": \"Typed Lua\", \"version\": \"0.1.0\", \"language\": \"lua\", \"entry\": \"main.lua\", "
    "\"provides\": [{\"name\": \"lua.echo\", \"kind\": \"handle\", \"function\": \"echo\", \"types\": {\"args\": "
    "{\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\"}]}}}, "
    "{\"name\": \"lua.ping\", \"kind\": \"handle\", \"function\": \"ping\"}]}";

static void start(void)
{
    const char *ids[] = {"conform/c", "conform/lua", "conform/python", "conform/wasm", NULL};
    h_setup(&h, ids);
    h_clone_plugin(&h, "lua/basic", "typed/lua", typed_manifest);
    h_write_manifest(&h, "bad/types",
                     "{\"name\": \"Bad types\", \"version\": \"0.1.0\", \"language\": \"lua\", \"entry\": \"main.lua\", "
                     "\"provides\": [{\"name\": \"x.y\", \"kind\": \"handle\", \"types\": {\"args\": {\"tpye\": "
                     "\"array\"}}}]}");
    h_write_manifest(&h, "bad/input",
                     "{\"name\": \"Bad input\", \"version\": \"0.1.0\", \"language\": \"lua\", \"entry\": \"main.lua\", "
                     "\"provides\": [{\"name\": \"x.z\", \"kind\": \"event\", \"types\": {\"input\": {\"type\": "
                     "\"array\"}}}]}");
    h_start(&h, NULL);
    c = h_connect(&h, "test-types");
    h_wait_loaded(c, ids);
    h_wait_loaded(c, (const char *[]){"typed/lua", NULL});
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(types, .init = start, .fini = stop, .timeout = 120);

/* call_in calls name with args_json in context ctx (NULL: none); *res gets the result. */
static int call_in(const char *name, const char *args_json, const char *ctx, bay_value **res, bay_error *err)
{
    bay_value *args = NULL;
    cr_assert_eq(bay_value_from_json(args_json, &args, NULL, 0), 0, "%s", args_json);
    bay_call_opts opts = {.timeout_ms = 10000, .context = ctx};
    int rc = bay_call(c, name, args, &opts, res, err);
    bay_value_free(args);
    return rc;
}

Test(types, a_result_that_breaks_the_types_fails_in_every_language)
{
    bay_error err;
    cr_assert_eq(bay_declare_typed(c, "conform.type", BAY_HANDLE, "{\"result\": {\"type\": \"integer\"}}", &err), 0,
                 "%s", err.message);
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        char ctx[64], want[300];
        snprintf(ctx, sizeof ctx, "conform/%s", langs[i]);
        snprintf(want, sizeof want, "\"conform.type\": conform/%s answered a result the types host:test-types "
                 "declared do not allow: at the top: expected integer, got str", langs[i]);
        bay_value *res = NULL;
        int rc = call_in("conform.type", "[1]", ctx, &res, &err);
        cr_assert_eq(rc, BAY_ETYPE, "%s: %s: %s", langs[i], bay_errname(rc), err.message);
        cr_assert_str_eq(err.plugin, ctx);
        cr_assert(strstr(err.message, want), "%s", err.message);
    }
}

Test(types, arguments_that_break_the_types_never_reach_the_plugin_and_fitting_ones_do)
{
    bay_error err;
    cr_assert_eq(bay_declare_typed(c, "conform.echo", BAY_HANDLE,
                                   "{\"args\": {\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\", "
                                   "\"minimum\": 0}], \"maxItems\": 1}, \"result\": {\"type\": \"integer\"}}",
                                   &err),
                 0, "%s", err.message);
    /* the same again is fine */
    cr_assert_eq(bay_declare_typed(c, "conform.echo", BAY_HANDLE,
                                   "{\"result\": {\"type\": \"integer\"}, \"args\": {\"maxItems\": 1, \"type\": "
                                   "\"array\", \"prefixItems\": [{\"minimum\": 0, \"type\": \"integer\"}]}}",
                                   &err),
                 0, "%s", err.message);
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "conform/%s", langs[i]);
        bay_value *res = NULL;
        cr_assert_eq(call_in("conform.echo", "[5]", ctx, &res, &err), 0, "%s: %s", langs[i], err.message);
        cr_assert_eq(bay_value_int(res), 5);
        bay_value_free(res);
        int rc = call_in("conform.echo", "[\"five\"]", ctx, &res, &err);
        cr_assert_eq(rc, BAY_ETYPE, "%s: %s", langs[i], bay_errname(rc));
        cr_assert_str_eq(err.plugin, "", "plugbayd refused it: no plugin was called");
        cr_assert(strstr(err.message, "\"conform.echo\": the arguments do not fit the types host:test-types "
                                      "declared: at [0]: expected integer, got str"), "%s", err.message);
        rc = call_in("conform.echo", "[-1]", ctx, &res, &err);
        cr_assert_eq(rc, BAY_ETYPE);
        cr_assert(strstr(err.message, "at [0]: expected at least 0, got -1"), "%s", err.message);
    }
}

Test(types, a_filter_provider_passing_on_arguments_that_break_the_types_stops_the_chain)
{
    bay_error err;
    cr_assert_eq(bay_declare_typed(c, "conform.filter", BAY_FILTER,
                                   "{\"args\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, "
                                   "\"maxItems\": 3}}",
                                   &err),
                 0, "%s", err.message);
    bay_value *st = NULL, *res = NULL;
    cr_assert_eq(bay_command(c, "status", NULL, 10000, &st, &err), 0, "%s", err.message);
    const bay_value *eps = bay_map_get(st, "extension_points");
    const char *third = NULL;
    for (size_t i = 0; i < bay_value_len(eps); i++)
        if (strcmp(bay_value_str(bay_map_get(bay_array_get(eps, i), "name"), NULL), "conform.filter") == 0) {
            third = bay_value_str(bay_array_get(bay_map_get(bay_array_get(eps, i), "providers"), 2), NULL);
            cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(eps, i), "typed_by"), NULL), "host:test-types");
        }
    cr_assert_not_null(third);
    /* ["x"] grows by one name per provider: the third one passes on four */
    int rc = call_in("conform.filter", "[\"x\"]", NULL, &res, &err);
    cr_assert_eq(rc, BAY_ETYPE, "%s: %s", bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, third);
    cr_assert(strstr(err.message, "answered arguments to pass on the types host:test-types declared do not allow: "
                                  "at the top: expected at most 3 items, got 4"), "%s", err.message);
    rc = call_in("conform.filter", "[7]", NULL, &res, &err);
    cr_assert_eq(rc, BAY_ETYPE, "the caller's own arguments are checked first");
    cr_assert(strstr(err.message, "at [0]: expected string, got int"), "%s", err.message);
    bay_value_free(st);
}

Test(types, types_a_manifest_gives_are_checked_and_a_host_contradicting_them_is_refused)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(call_in("lua.echo", "[\"hi\"]", NULL, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "hi");
    bay_value_free(res);
    int rc = call_in("lua.echo", "[5]", NULL, &res, &err);
    cr_assert_eq(rc, BAY_ETYPE);
    cr_assert(strstr(err.message, "the types typed/lua declared: at [0]: expected string, got int"), "%s",
              err.message);
    rc = bay_declare_typed(c, "lua.echo", BAY_HANDLE,
                           "{\"args\": {\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\"}]}}", &err);
    cr_assert_eq(rc, BAY_ETYPE, "%s", bay_errname(rc));
    cr_assert(strstr(err.message, "host:test-types declares the types of \"lua.echo\" otherwise than typed/lua did: "
                                  "at /args/prefixItems/0/type: \"integer\" against \"string\""),
              "%s", err.message);
    rc = bay_declare_typed(c, "lua.echo", BAY_EVENT, "{}", &err);
    cr_assert_eq(rc, BAY_EKIND, "the kind is checked as bay_declare checks it: %s", bay_errname(rc));
}

Test(types, a_provider_whose_manifest_contradicts_the_host_fails_to_load_and_says_where)
{
    bay_error err;
    cr_assert_eq(bay_declare_typed(c, "lua.ping", BAY_HANDLE, "{\"result\": {\"type\": \"integer\"}}", &err), 0,
                 "%s", err.message);
    char path[600];
    snprintf(path, sizeof path, "%s/typed/lua/plugin.json", h.plugins);
    h_edit_file(path, "\"function\": \"ping\"}", "\"function\": \"ping\", \"types\": {\"result\": {\"type\": \"string\"}}}");
    int rc = h_command(c, "reload", "typed/lua", &err);
    char state[64], reason[512];
    h_plugin_state(c, "typed/lua", state, sizeof state, reason, sizeof reason);
    cr_assert(rc != 0 || strcmp(state, "loaded") != 0, "typed/lua loaded with contradicting types");
    cr_assert(strstr(rc ? err.message : reason, "typed/lua declares the types of \"lua.ping\" otherwise than "
                                                "host:test-types did: at /result/type: \"string\" against "
                                                "\"integer\""),
              "%s / %s", err.message, reason);
    bay_value *res = NULL;
    cr_assert_eq(call_in("conform.echo", "[1]", "conform/c", &res, &err), 0, "the others serve on: %s", err.message);
    bay_value_free(res);
}

Test(types, a_plugin_alone_with_its_types_changes_them_at_a_reload)
{
    char path[600];
    snprintf(path, sizeof path, "%s/typed/lua/plugin.json", h.plugins);
    h_edit_file(path, "\"prefixItems\": [{\"type\": \"string\"}]", "\"prefixItems\": [{\"type\": \"integer\"}]");
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "typed/lua", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "typed/lua", "loaded", H_WAIT_MS));
    bay_value *res = NULL;
    cr_assert_eq(call_in("lua.echo", "[5]", NULL, &res, &err), 0, "the new types hold: %s", err.message);
    bay_value_free(res);
    int rc = call_in("lua.echo", "[\"hi\"]", NULL, &res, &err);
    cr_assert_eq(rc, BAY_ETYPE, "%s", bay_errname(rc));
    cr_assert(strstr(err.message, "at [0]: expected integer, got str"), "%s", err.message);
}

Test(types, types_that_do_not_parse_are_refused_with_where)
{
    char state[64], reason[512];
    h_plugin_state(c, "bad/types", state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "invalid");
    cr_assert(strstr(reason, "field \"provides[0].types\": \"args\": schema at /: unknown keyword \"tpye\""), "%s",
              reason);
    h_plugin_state(c, "bad/input", state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "invalid");
    cr_assert(strstr(reason, "field \"provides[0].types\": \"input\" types a handle's streamed input; an event takes "
                             "none"), "%s", reason);
    const struct {
        const char *types, *says;
    } bad[] = {
        {"{not json", "must be a JSON object"},
        {"[1]", "must be a JSON object"},
        {"{\"argz\": {}}", "types hold \"args\", \"result\" and \"input\", not \"argz\""},
        {"{\"input\": {\"type\": \"array\", \"itemz\": 1}}", "\"input\": schema at /: unknown keyword \"itemz\""},
        {"{\"args\": {\"type\": \"str\"}}", "\"args\": schema at /: \"type\" must be one of"},
        {"{\"result\": {\"items\": {\"minItems\": 1.5}}}", "schema at /items: \"minItems\" must be a non-negative"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bay_error err;
        int rc = bay_declare_typed(c, "odd.types", BAY_HANDLE, bad[i].types, &err);
        cr_assert_eq(rc, BAY_EINVAL, "%s: %s", bad[i].types, bay_errname(rc));
        cr_assert(strstr(err.message, bad[i].says), "%s: %s", bad[i].types, err.message);
    }
    bay_error err;
    cr_assert_eq(bay_declare_typed(c, "odd.types", BAY_HANDLE, NULL, &err), BAY_EINVAL);
    cr_assert_eq(bay_declare_typed(c, "odd.event", BAY_EVENT, "{\"input\": {\"type\": \"array\"}}", &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"odd.event\": \"input\" types a handle's streamed input; an event takes none"),
              "%s", err.message);
    bay_value *res = NULL;
    cr_assert_eq(call_in("conform.echo", "[1]", "conform/c", &res, &err), 0, "%s", err.message);
    bay_value_free(res);
}

static void start_off(void)
{
    const char *ids[] = {"conform/c", NULL};
    h_setup(&h, ids);
    h_start(&h, (const char *[]){"--check-types", "off", NULL});
    c = h_connect(&h, "test-types");
    h_wait_loaded(c, ids);
}

TestSuite(types_off, .init = start_off, .fini = stop, .timeout = 60);

Test(types_off, with_check_types_off_values_are_not_checked_but_types_still_are)
{
    bay_error err;
    cr_assert_eq(bay_declare_typed(c, "conform.type", BAY_HANDLE, "{\"result\": {\"type\": \"integer\"}}", &err), 0,
                 "%s", err.message);
    bay_value *res = NULL;
    cr_assert_eq(call_in("conform.type", "[1]", "conform/c", &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(res, NULL), "int");
    bay_value_free(res);
    cr_assert_eq(bay_declare_typed(c, "conform.type", BAY_HANDLE, "{\"result\": {\"type\": \"string\"}}", &err),
                 BAY_ETYPE, "contradicting types are refused all the same");
}
