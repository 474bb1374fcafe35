/* tests/e2e/test_lua.c — Lua plugins under the real broker: handles, events beside C plugins, values, the plugbay API (settings, storage, hooks, timers, managing plugins and emit too), the sandbox and the limits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(lua, .fini = stop, .timeout = 120);

/* start_with starts a broker with example/hello and the plugins ids, and waits until those that load have. */
static void start_with(const char *const *ids, const char *const *failing)
{
    const char *all[32] = {"example/hello"};
    size_t n = 1;
    for (size_t i = 0; ids && ids[i]; i++)
        all[n++] = ids[i];
    for (size_t i = 0; failing && failing[i]; i++)
        all[n++] = failing[i];
    all[n] = NULL;
    h_setup(&h, all);
    h_start(&h, NULL);
    c = h_connect(&h, "test-lua");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    h_wait_loaded(c, ids);
}

/* start_one starts a broker with example/hello and plugin. */
static void start_one(const char *plugin)
{
    start_with((const char *[]){plugin, NULL}, NULL);
}

/* expect_json calls ext with args_json and asserts the result renders as want_json. */
static void expect_json(const char *ext, const char *args_json, const char *want_json)
{
    bay_value *res, *want = NULL;
    bay_error err;
    int rc = h_call_json(c, ext, args_json, 10000, &res, &err);
    cr_assert_eq(rc, 0, "%s%s: %s: %s", ext, args_json, bay_errname(rc), err.message);
    cr_assert_eq(bay_value_from_json(want_json, &want, NULL, 0), 0);
    char *text = NULL;
    bay_value_to_json(res, &text);
    cr_assert(bay_value_equal(res, want), "%s%s gave %s, not %s", ext, args_json, text, want_json);
    free(text);
    bay_value_free(res);
    bay_value_free(want);
}

/* expect_code calls ext with args_json and asserts it fails with code, naming plugin; err says why. */
static void expect_code(const char *ext, const char *args_json, int timeout_ms, int code, const char *plugin,
                        bay_error *err)
{
    bay_value *res;
    int rc = h_call_json(c, ext, args_json, timeout_ms, &res, err);
    bay_value_free(res);
    cr_assert_eq(rc, code, "%s: got %s, not %s: %s", ext, bay_errname(rc), bay_errname(code), err->message);
    cr_assert_str_eq(err->plugin, plugin, "%s: the error names %s: %s", ext, err->plugin, err->message);
}

/* expect_failure calls ext without arguments and asserts it fails with code,
 * naming plugin, with every word of words in the message. */
static void expect_failure(const char *ext, int code, const char *plugin, const char *const *words)
{
    bay_error err;
    expect_code(ext, "[]", 10000, code, plugin, &err);
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(err.message, words[i]), "%s: the message lacks \"%s\": %s", ext, words[i], err.message);
}

/* expect_all_answer asserts that PREFIX.ping answers "pong" from the same worker pid, and that example/hello greets. */
static void expect_all_answer(const char *prefix, const char *plugin, pid_t pid)
{
    char name[64], out[128];
    bay_error err;
    snprintf(name, sizeof name, "%s.ping", prefix);
    cr_assert_eq(h_call_str(c, name, NULL, 5000, out, sizeof out, &err), 0, "%s: %s", name, err.message);
    cr_assert_str_eq(out, "pong");
    cr_assert_eq(h_worker_pid(c, plugin), pid, "%s was restarted; it should have survived in the same worker", plugin);
    cr_assert_eq(h_call_str(c, "greet", "still", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, "Hello, still!");
}

/* An escape attempt: the extension point, and words its error must hold. */
typedef struct attempt {
    const char *ext;
    const char *words[4];
} attempt;

/* expect_refused makes each attempt on plugin (its extension points start with prefix) and checks that it is
 * refused clearly and that the plugin and the others still answer afterwards. */
static void expect_refused(const char *plugin, const char *prefix, const attempt *attempts, size_t n)
{
    pid_t pid = h_worker_pid(c, plugin);
    for (size_t i = 0; i < n; i++) {
        expect_failure(attempts[i].ext, BAY_EPLUGIN, plugin, attempts[i].words);
        expect_all_answer(prefix, plugin, pid);
    }
}

Test(lua, handle_is_served_by_a_lua_plugin)
{
    start_one("example/lua-hello");
    expect_json("lua.greet", "[\"world\"]", "\"Hello, world!\"");
    expect_json("lua.greet", "[[\"Ada\", \"Grace\"]]", "\"Hello, Ada and Grace!\"");
    expect_failure("lua.greet", BAY_EPLUGIN, "example/lua-hello",
                   (const char *[]){"example/lua-hello/main.lua:", "argument 1 must be a name", NULL});
}

Test(lua, event_reaches_c_and_lua_providers_in_load_order)
{
    start_with((const char *[]){"example/audit", "example/lua-hello", NULL}, NULL);
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 3);
    const char *order[] = {"example/hello", "example/lua-hello", "example/audit"}; /* order 0, 5, 10 */
    for (size_t i = 0; i < 3; i++) {
        const bay_value *entry = bay_array_get(res, i);
        cr_assert_str_eq(bay_value_str(bay_map_get(entry, "plugin"), NULL), order[i]);
        cr_assert_not_null(bay_map_get(entry, "value"), "%s answered with an error", order[i]);
    }
    const bay_value *lua = bay_map_get(bay_array_get(res, 1), "value");
    cr_assert_str_eq(bay_value_str(bay_map_get(lua, "language"), NULL), "lua");
    cr_assert_eq(bay_value_int(bay_map_get(lua, "count")), 1);
    bay_value_free(res);
}

Test(lua, values_cross_a_lua_plugin_unchanged)
{
    start_one("lua/basic");
    bay_value *args = bay_array(), *m = bay_map(), *res = NULL;
    bay_map_set(m, "bin", bay_bin("a\0b\xff", 4));
    bay_map_set(m, "min", bay_int(INT64_MIN));
    bay_map_set(m, "max", bay_int(INT64_MAX));
    bay_map_set(m, "half", bay_float(-0.5));
    bay_map_set(m, "whole", bay_float(3.0));
    bay_map_set(m, "huge", bay_float(INFINITY));
    bay_map_set(m, "text", bay_strn("x\0y", 3));
    bay_map_set(m, "empty_map", bay_map());
    bay_map_set(m, "empty_list", bay_array());
    bay_value *list = bay_array();
    bay_array_push(list, bay_int(1));
    bay_array_push(list, bay_nil());
    bay_array_push(list, bay_bool(false));
    bay_map_set(m, "list", list);
    bay_array_push(args, m);
    bay_error err;
    cr_assert_eq(bay_call(c, "lua.echo", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert(bay_value_equal(m, res), "the value came back changed");
    bay_value_free(args);
    bay_value_free(res);
}

Test(lua, integers_and_floats_keep_their_types)
{
    start_one("lua/basic");
    expect_json("lua.types", "[1, 1.0, 9007199254740993, -9223372036854775808, \"s\", true, null, {}]",
                "[\"integer\", \"float\", \"integer\", \"integer\", \"string\", \"boolean\", \"nil\", \"table\"]");
    expect_json("lua.echo", "[9007199254740993]", "9007199254740993");
    expect_json("lua.echo", "[2.0]", "2.0");
}

Test(lua, lua_error_names_plugin_file_and_line_and_the_plugin_goes_on)
{
    start_one("lua/basic");
    pid_t pid = h_worker_pid(c, "lua/basic");
    bay_error err;
    expect_code("lua.fail", "[\"disk full\"]", 5000, BAY_EPLUGIN, "lua/basic", &err);
    cr_assert_str_eq(err.message, "lua/basic/main.lua:24: boom: disk full");
    expect_failure("lua.bad_result", BAY_ETYPE, "lua/basic",
                   (const char *[]){"function bad_result", "result.items[2].callback", "is a function", NULL});
    expect_all_answer("lua", "lua/basic", pid);
}

Test(lua, plugbay_call_reaches_c_plugins_and_the_plugin_itself)
{
    start_one("lua/basic");
    expect_json("lua.via", "[\"greet\", \"lua\"]", "\"Hello, lua!\"");
    /* Re-entrant: lua/basic waits in plugbay.call while the broker calls lua.echo on it. */
    expect_json("lua.via", "[\"lua.echo\", {\"k\": [1, 2]}]", "{\"k\": [1, 2]}");
    expect_json("lua.via_co", "[\"lua.via\", \"lua.echo\", \"deep\"]", "\"deep\"");
    bay_value *res;
    bay_error err;
    cr_assert_eq(h_call_json(c, "lua.via", "[\"no.such.point\"]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "code"), NULL), "BAY_ENOENT");
    cr_assert(strstr(bay_value_str(bay_map_get(res, "error"), NULL), "no.such.point"));
    bay_value_free(res);
}

static bool ticked_three_times(void *arg)
{
    bay_value *res = NULL;
    bool done = h_call_json(c, "lua.ticks", "[]", 2000, &res, NULL) == 0 && bay_value_int(res) >= 3;
    bay_value_free(res);
    return done;
}

Test(lua, config_on_load_timers_print_and_log)
{
    start_one("lua/basic");
    expect_json("lua.config", "[]", "{\"answer\": 42, \"nested\": {\"list\": [1, 2.5, \"x\"]}}");
    expect_json("lua.config", "[\"answer\"]", "42");
    expect_json("lua.loaded", "[]", "true");
    cr_assert(h_wait_until(ticked_three_times, NULL, H_WAIT_MS), "the timer did not tick");
    expect_json("lua.print", "[]", "null");
    cr_assert(h_wait_log(&h, "[lua/basic] printed by lua/basic\t42\tnil\ttrue"));
    cr_assert(h_wait_log(&h, "[lua/basic] logged by lua/basic: 7"));
}

/* Every plugin learns its data folder, as C and Python plugins do; opening files there needs lua.io. */
Test(lua, data_dir_is_known_to_every_plugin_and_io_needs_the_permission_lua_io)
{
    start_with((const char *[]){"lua/basic", "lua/granted", NULL}, NULL);
    char want[700];
    snprintf(want, sizeof want, "\"%s/data/lua/basic\"", h.state);
    expect_json("lua.data_dir", "[]", want);
    expect_json("granted.write", "[\"a note\"]", "true");
    expect_json("granted.read", "[]", "\"a note\"");
}

Test(lua, the_commands_the_missing_lua_io_suggests_grant_it)
{
    start_one("lua/granted");
    bay_error err;
    cr_assert_eq(h_command(c, "uninstall", "lua/granted", &err), 0, "%s", err.message);
    bay_value *args = bay_map(), *grant = bay_array();
    bay_map_set(args, "id", bay_str("lua/granted"));
    for (const char *const *g = (const char *const[]){"provide:granted.write", "provide:granted.read",
                                                       "provide:granted.libs", NULL}; *g; g++)
        bay_array_push(grant, bay_str(*g));
    bay_map_set(args, "grant", grant);
    cr_assert_eq(bay_command(c, "install", args, 30000, NULL, &err), 0, "%s", err.message);
    bay_value_free(args);
    bay_value *res = NULL;
    cr_assert_eq(h_call_json(c, "granted.write", "[\"a note\"]", 0, &res, &err), BAY_EPLUGIN);
    char said[sizeof err.message], out[512], why[1024];
    snprintf(said, sizeof said, "%s", err.message);
    for (int i = 0; i < 2; i++) /* grant lua.io, then reload */
        cr_assert_eq(h_run_suggested(&h, said, i, out, sizeof out, why, sizeof why), 0, "%d of \"%s\": %s", i, said, why);
    cr_assert(h_wait_state(c, "lua/granted", "loaded", H_WAIT_MS));
    expect_json("granted.write", "[\"a note\"]", "true");
}

Test(lua, permissions_open_the_os_debug_and_package_libraries)
{
    start_one("lua/granted");
    expect_json("granted.libs", "[]", "{\"os\": true, \"debug\": true, \"package\": true, \"helper\": 42}");
}

Test(lua, io_open_is_refused)
{
    attempt a[] = {{"io.try", {"lua/io/main.lua:5:", "io is not available", "\"lua.io\"", NULL}}};
    start_one("lua/io");
    expect_refused("lua/io", "io", a, 1);
}

Test(lua, os_execute_is_refused_and_os_time_stays)
{
    attempt a[] = {{"os.try", {"lua/os/main.lua:5:", "os.execute is not available", "\"lua.os\"", NULL}}};
    start_one("lua/os");
    expect_refused("lua/os", "os", a, 1);
    expect_json("os.time", "[]", "\"integer number string\"");
    cr_assert(h_wait_refused(c, "lua/os", "lua os.execute", 0), "info does not count the refused os.execute");
}

Test(lua, require_sees_only_the_plugins_folder)
{
    attempt a[] = {
        {"require.try", {"module 'socket' not found", "only loads Lua files from its own folder", "lua.package", NULL}},
        {"require.outside", {"require(\"../basic/main\")", "only sees its own folder", NULL}},
    };
    start_one("lua/require");
    expect_refused("lua/require", "require", a, 2);
}

Test(lua, binary_chunks_are_refused)
{
    attempt a[] = {
        {"dump.try", {"lua/dump/main.lua:5:", "string.dump is not available", NULL}},
        {"dump.bytes", {"attempt to load a binary chunk", NULL}},
    };
    start_one("lua/dump");
    expect_refused("lua/dump", "dump", a, 2);
    expect_json("dump.text", "[]", "42");
}

Test(lua, debug_is_refused)
{
    attempt a[] = {{"debug.try", {"debug is not available", "\"lua.debug\"", NULL}}};
    start_one("lua/debug");
    expect_refused("lua/debug", "debug", a, 1);
}

Test(lua, another_plugins_modules_are_out_of_reach)
{
    start_with((const char *[]){"lua/basic", "lua/loaded", NULL}, NULL);
    attempt a[] = {{"loaded.try", {"module 'lua.basic.main' not found", NULL}}};
    expect_refused("lua/loaded", "loaded", a, 1);
    expect_json("loaded.keys", "[]", "[\"_G\", \"coroutine\", \"math\", \"os\", \"plugbay\", \"string\", \"table\", "
                                     "\"utf8\"]");
}

Test(lua, finalizers_are_refused)
{
    attempt a[] = {{"finalizer.try", {"__gc", "not allowed", NULL}}};
    start_one("lua/finalizer");
    expect_refused("lua/finalizer", "finalizer", a, 1);
    cr_assert(h_wait_refused(c, "lua/finalizer", "lua __gc", 0), "info does not count the refused finalizer");
    expect_json("finalizer.metatables", "[]", "[\"plugbay.array\", \"plugbay.map\", \"plugbay.error\"]");
}

Test(lua, endless_loops_end_at_the_instruction_limit)
{
    start_one("lua/loop");
    pid_t pid = h_worker_pid(c, "lua/loop");
    const char *exts[] = {"loop.try", "loop.pcall", "loop.coroutine"};
    for (size_t i = 0; i < 3; i++) {
        long long t0 = h_now_ms();
        expect_failure(exts[i], BAY_EPLUGIN, "lua/loop",
                       (const char *[]){"lua/loop/main.lua:", "stopped after 2000000 instructions",
                                        "limits.lua_instructions", NULL});
        cr_assert(h_now_ms() - t0 < 3000, "%s took %lld ms", exts[i], h_now_ms() - t0);
        expect_all_answer("loop", "lua/loop", pid);
    }
    expect_json("loop.enough", "[]", "5000050000");
    cr_assert(h_wait_refused(c, "lua/loop", "lua instruction budget", 2), "info does not count the three stops");
}

Test(lua, a_deadline_stops_lua_code_and_the_plugin_stays)
{
    start_one("lua/spin");
    pid_t pid = h_worker_pid(c, "lua/spin");
    bay_error err;
    long long t0 = h_now_ms();
    expect_code("spin.try", "[]", 300, BAY_ETIMEDOUT, "lua/spin", &err);
    cr_assert(h_now_ms() - t0 < 1500, "the caller waited %lld ms for a 300 ms deadline", h_now_ms() - t0);
    expect_all_answer("spin", "lua/spin", pid);
}

Test(lua, a_cancel_stops_lua_code_and_the_plugin_stays)
{
    start_one("lua/spin");
    pid_t pid = h_worker_pid(c, "lua/spin");
    bay_pending *p;
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(bay_call_async(c, "spin.try", NULL, NULL, &p, &err), 0, "%s", err.message);
    cr_assert_eq(bay_pending_wait(p, 100, &res, &err), BAY_EPENDING, "still spinning after 100 ms");
    cr_assert_eq(bay_pending_cancel(p), 0);
    int rc = bay_pending_wait(p, -1, &res, &err);
    cr_assert_eq(rc, BAY_ECANCELED, "got %s: %s", bay_errname(rc), err.message);
    bay_pending_free(p);
    expect_all_answer("spin", "lua/spin", pid);
}

Test(lua, a_memory_bomb_ends_at_the_memory_limit_and_the_state_serves_again)
{
    start_one("lua/membomb");
    pid_t pid = h_worker_pid(c, "lua/membomb");
    for (int round = 0; round < 2; round++) {
        expect_failure("membomb.try", BAY_ENOMEM, "lua/membomb",
                       (const char *[]){"ran out of memory", "8 MB", "limits.lua_memory_mb", NULL});
        expect_all_answer("membomb", "lua/membomb", pid);
        expect_json("membomb.fits", "[]", "4000000");
    }
}

Test(lua, errors_that_are_not_strings_get_clear_messages)
{
    attempt a[] = {
        {"errtable.try", {"lua/errtable/main.lua:5:", "error raised with a table value", NULL}},
        {"errtable.message", {"lua/errtable/main.lua:8: custom failure", NULL}},
        {"errtable.tostring", {"lua/errtable/main.lua:11: told by __tostring", NULL}},
        {"errtable.number", {"lua/errtable/main.lua:14:", "a number value (42)", NULL}},
    };
    start_one("lua/errtable");
    expect_refused("lua/errtable", "errtable", a, 4);
}

Test(lua, deep_recursion_and_deep_results_are_clear_errors)
{
    attempt a[] = {{"recurse.try", {"lua/recurse/main.lua:6:", "stack overflow", NULL}}};
    start_one("lua/recurse");
    expect_refused("lua/recurse", "recurse", a, 1);
    expect_failure("recurse.deep", BAY_ETYPE, "lua/recurse", (const char *[]){"deeper than 24 levels", NULL});
    expect_all_answer("recurse", "lua/recurse", h_worker_pid(c, "lua/recurse"));
}

/* A plugin that cannot load, the state it ends in, and what its failure must say. */
typedef struct broken {
    const char *id;
    const char *state;
    const char *words[3];
} broken;

Test(lua, broken_plugins_fail_to_load_with_clear_reasons_and_the_others_serve)
{
    static const broken cases[] = {
        {"lua/syntax", "failed", {"lua/syntax/main.lua:3:", "<eof> expected near 'end'", NULL}},
        {"lua/notable", "failed", {"lua/notable/main.lua returned a string", "must return a table", NULL}},
        {"lua/nofunc", "failed", {"names function \"pong\"", "its functions are: ", NULL}},
        /* plugbayd checks the manifest's limits: the plugin is invalid before any worker starts */
        {"lua/badlimit", "invalid",
         {"field \"limits.lua_memory_mb\": expected a whole number of MiB from 1 to 4096", "got \"lots\"", NULL}},
        {"lua/onload", "failed", {"on_load failed: lua/onload/main.lua:4: missing licence key", NULL}},
        {"lua/badhook", "failed",
         {"lua/badhook/main.lua: field on_update of the plugin's table is a string; it must be a function or nil",
          NULL}},
    };
    const size_t n = sizeof cases / sizeof *cases;
    const char *ids[8] = {0};
    for (size_t i = 0; i < n; i++)
        ids[i] = cases[i].id;
    start_with((const char *[]){"lua/basic", NULL}, ids);
    for (size_t i = 0; i < n; i++) {
        cr_assert(h_wait_state(c, cases[i].id, cases[i].state, H_WAIT_MS), "%s is not %s", cases[i].id,
                  cases[i].state);
        char state[64], reason[512];
        h_plugin_state(c, cases[i].id, state, sizeof state, reason, sizeof reason);
        for (size_t w = 0; cases[i].words[w]; w++)
            cr_assert(strstr(reason, cases[i].words[w]), "%s: the reason lacks \"%s\": %s", cases[i].id,
                      cases[i].words[w], reason);
    }
    expect_all_answer("lua", "lua/basic", h_worker_pid(c, "lua/basic"));
}

/* set_setting sets setting key of plugin id to the value of JSON json, as a host does, asserting it worked. */
static void set_setting(const char *id, const char *key, const char *json)
{
    bay_error err;
    int rc = h_set_setting(c, id, key, json, &err);
    cr_assert_eq(rc, 0, "config %s %s=%s: %s: %s", id, key, json, bay_errname(rc), err.message);
}

/* A call and the result it should give, for h_wait_until. */
typedef struct answer {
    const char *ext, *args_json, *want_json;
} answer;

/* gives tells whether calling a->ext with a->args_json gives a->want_json now. */
static bool gives(void *arg)
{
    const answer *a = arg;
    bay_value *res = NULL, *want = NULL;
    bool same = h_call_json(c, a->ext, a->args_json, 5000, &res, NULL) == 0 &&
                bay_value_from_json(a->want_json, &want, NULL, 0) == 0 && bay_value_equal(res, want);
    bay_value_free(res);
    bay_value_free(want);
    return same;
}

Test(lua, settings_are_read_and_a_change_reaches_on_settings_without_a_restart)
{
    start_one("lua/settings");
    expect_json("luaset.greet", "[\"Ada\"]", "\"Hello, Ada!\"");
    expect_json("luaset.all", "[]", "{\"greeting\": \"Hello\", \"retries\": 3}");
    expect_json("luaset.setting", "[\"retries\"]", "3");
    expect_json("luaset.setting", "[\"nope\"]", "null");
    pid_t pid = h_worker_pid(c, "lua/settings");
    set_setting("lua/settings", "greeting", "\"Howdy\"");
    answer howdy = {"luaset.greet", "[\"Ada\"]", "\"Howdy, Ada!\""};
    cr_assert(h_wait_until(gives, &howdy, H_WAIT_MS), "lua/settings does not greet with the new setting");
    cr_assert_eq(h_worker_pid(c, "lua/settings"), pid, "the worker was restarted");
    expect_json("luaset.all", "[]", "{\"greeting\": \"Howdy\", \"retries\": 3}");
    /* on_settings got the settings as a table (integers kept) and the changed keys as an array, and the new
     * values held while it ran. */
    expect_json("luaset.heard", "[]",
                "{\"settings\": {\"greeting\": \"Howdy\", \"retries\": 3}, \"changed\": [\"greeting\"], "
                "\"retries_type\": \"integer\", \"greeting_now\": \"Howdy\"}");
    set_setting("lua/settings", "retries", "7");
    answer seven = {"luaset.setting", "[\"retries\"]", "7"};
    cr_assert(h_wait_until(gives, &seven, H_WAIT_MS), "lua/settings does not read the new retries");
    expect_json("luaset.heard", "[]",
                "{\"settings\": {\"greeting\": \"Howdy\", \"retries\": 7}, \"changed\": [\"retries\"], "
                "\"retries_type\": \"integer\", \"greeting_now\": \"Howdy\"}");
}

Test(lua, an_error_in_on_settings_is_logged_and_the_new_values_hold)
{
    start_one("lua/settings");
    pid_t pid = h_worker_pid(c, "lua/settings");
    set_setting("lua/settings", "greeting", "\"Fail\"");
    cr_assert(h_wait_log(&h, "[lua/settings] hook:settings failed: lua/settings/main.lua:36: cannot greet with Fail"));
    expect_json("luaset.greet", "[\"Ada\"]", "\"Fail, Ada!\"");
    cr_assert_eq(h_worker_pid(c, "lua/settings"), pid, "the worker was restarted");
}

Test(lua, the_store_round_trips_values_keys_and_sql_without_a_file_permission)
{
    start_one("lua/store");
    expect_json("lstore.get", "[\"missing\"]", "null");
    const char *value = "{\"list\": [1, 2.0, null, true], \"text\": \"t\", \"empty\": {}, \"none\": []}";
    char args[256];
    snprintf(args, sizeof args, "[\"a\", %s]", value);
    expect_json("lstore.put", args, "true");
    expect_json("lstore.get", "[\"a\"]", value);
    /* Bytes that are not UTF-8 stay bytes. */
    bay_value *bin = bay_array(), *res = NULL;
    bay_error err;
    bay_array_push(bin, bay_str("bin"));
    bay_array_push(bin, bay_bin("a\0b\xff", 4));
    cr_assert_eq(bay_call(c, "lstore.put", bin, NULL, &res, &err), 0, "%s", err.message);
    bay_value_free(res);
    cr_assert_eq(h_call_json(c, "lstore.get", "[\"bin\"]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert(bay_value_equal(res, bay_array_get(bin, 1)), "the bytes came back changed");
    bay_value_free(res);
    bay_value_free(bin);
    /* Keys by prefix, in byte order; on_install's note is one of them. */
    for (const char *const *put = (const char *const[]){"[\"p:2\", 2]", "[\"p:1\", 1]", "[\"q\", 3]", NULL}; *put;
         put++)
        expect_json("lstore.put", *put, "true");
    expect_json("lstore.keys", "[\"p:\"]", "[\"p:1\", \"p:2\"]");
    expect_json("lstore.keys", "[]", "[\"a\", \"bin\", \"hooks\", \"p:1\", \"p:2\", \"q\"]");
    expect_json("lstore.delete", "[\"p:1\"]", "true");
    expect_json("lstore.delete", "[\"p:1\"]", "true");
    expect_json("lstore.keys", "[\"p:\"]", "[\"p:2\"]");
    /* SQL with array and map parameters; rows come back as an array of maps, NULL as null. */
    expect_json("lstore.sql", "[\"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL)\"]", "[]");
    expect_json("lstore.sql", "[\"INSERT INTO notes (id, body, score) VALUES (?, ?, ?)\", [1, \"ada\", 1.5]]", "[]");
    expect_json("lstore.sql",
                "[\"INSERT INTO notes (id, body, score) VALUES (:id, :body, :score)\", "
                "{\"id\": 2, \"body\": \"grace\", \"score\": null}]",
                "[]");
    expect_json("lstore.sql", "[\"SELECT id, body, score FROM notes WHERE id >= ? ORDER BY id\", [1]]",
                "[{\"id\": 1, \"body\": \"ada\", \"score\": 1.5}, {\"id\": 2, \"body\": \"grace\", \"score\": null}]");
    /* Kept by a new worker. */
    cr_assert_eq(h_command(c, "reload", "lua/store", &err), 0, "%s", err.message);
    expect_json("lstore.get", "[\"a\"]", value);
    expect_json("lstore.sql", "[\"SELECT body FROM notes WHERE id = :id\", {\"id\": 2}]", "[{\"body\": \"grace\"}]");
}

Test(lua, a_store_refusal_is_a_lua_error_carrying_its_code_name_and_the_plugin_goes_on)
{
    start_one("lua/store");
    pid_t pid = h_worker_pid(c, "lua/store");
    bay_value *res = NULL;
    bay_error err;
    const char *attach = "[\"sql\", \"ATTACH DATABASE '/tmp/lua-store.db' AS other\"]";
    cr_assert_eq(h_call_json(c, "lstore.caught", attach, 5000, &res, &err), 0, "%s", err.message);
    const char *message = bay_value_str(bay_map_get(res, "message"), NULL);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "type"), NULL), "table");
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "code"), NULL), "BAY_EPERM");
    cr_assert(message && strncmp(message, "plugbay.store.sql: ", 19) == 0 && strstr(message, "(BAY_EPERM)"), "%s",
              message);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "text"), NULL), message, "tostring(err) is not its message");
    bay_value_free(res);
    /* Not caught, it fails the call naming file, line, function and code. */
    expect_code("lstore.sql", "[\"ATTACH DATABASE '/tmp/lua-store.db' AS other\"]", 5000, BAY_EPLUGIN, "lua/store",
                &err);
    cr_assert(strstr(err.message, "lua/store/main.lua:") && strstr(err.message, "plugbay.store.sql: ") &&
                  strstr(err.message, "(BAY_EPERM)"),
              "%s", err.message);
    expect_failure("lstore.put_print", BAY_EPLUGIN, "lua/store",
                   (const char *[]){"lua/store/main.lua:", "plugbay.store.put: value: is a function", "(BAY_ETYPE)",
                                    NULL});
    expect_code("lstore.sql", "[\"SELECT ?\", \"1\"]", 5000, BAY_EPLUGIN, "lua/store", &err);
    cr_assert(strstr(err.message, "bad argument #2 to 'sql' (table expected, got string)"), "%s", err.message);
    expect_json("lstore.ping", "[]", "\"pong\"");
    cr_assert_eq(h_worker_pid(c, "lua/store"), pid, "lua/store was restarted");
}

/* set_version edits plugin id's manifest in the plugins folder from version `from` to `to`. */
static void set_version(const char *id, const char *from, const char *to)
{
    char path[700], was[64], now[64];
    snprintf(path, sizeof path, "%s/%s/plugin.json", h.plugins, id);
    snprintf(was, sizeof was, "\"version\": \"%s\"", from);
    snprintf(now, sizeof now, "\"version\": \"%s\"", to);
    h_edit_file(path, was, now);
}

Test(lua, on_install_runs_once_and_on_update_gets_the_version_before)
{
    start_one("lua/store");
    expect_json("lstore.hooks", "[]", "{\"ran\": \"on_install\", \"kept\": \"on_install\"}");
    bay_error err;
    cr_assert_eq(h_command(c, "reload", "lua/store", &err), 0, "%s", err.message);
    expect_json("lstore.hooks", "[]", "{\"ran\": \"\", \"kept\": \"on_install\"}");
    set_version("lua/store", "1.0.0", "1.1.0");
    cr_assert_eq(h_command(c, "reload", "lua/store", &err), 0, "%s", err.message);
    expect_json("lstore.hooks", "[]", "{\"ran\": \"on_update(1.0.0)\", \"kept\": \"on_install on_update(1.0.0)\"}");
}

Test(lua, a_failing_on_update_fails_the_reload_the_old_version_serves_and_its_writes_are_undone)
{
    start_one("lua/store");
    bay_error err;
    set_version("lua/store", "1.0.0", "1.1.0");
    cr_assert_eq(h_command(c, "reload", "lua/store", &err), 0, "%s", err.message);
    pid_t pid = h_worker_pid(c, "lua/store");
    set_setting("lua/store", "fail_update", "true");
    set_version("lua/store", "1.1.0", "1.2.0");
    int rc = h_command(c, "reload", "lua/store", &err);
    cr_assert_eq(rc, BAY_EUNAVAIL, "%s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "on_update failed: lua/store/main.lua:") &&
                  strstr(err.message, "cannot migrate from 1.1.0: told to fail") &&
                  strstr(err.message, "version 1.1.0 keeps serving"),
              "%s", err.message);
    cr_assert_eq(h_worker_pid(c, "lua/store"), pid, "another worker serves");
    expect_json("lstore.hooks", "[]", "{\"ran\": \"on_update(1.0.0)\", \"kept\": \"on_install on_update(1.0.0)\"}");
    /* Allowed again, its next load migrates from the version that served. */
    set_setting("lua/store", "fail_update", "false");
    cr_assert_eq(h_command(c, "reload", "lua/store", &err), 0, "%s", err.message);
    expect_json("lstore.hooks", "[]",
                "{\"ran\": \"on_update(1.1.0)\", \"kept\": \"on_install on_update(1.0.0) on_update(1.1.0)\"}");
}

Test(lua, on_uninstall_runs_with_the_store_still_there)
{
    start_one("lua/store");
    bay_error err;
    cr_assert_eq(h_command(c, "uninstall", "lua/store", &err), 0, "%s", err.message);
    cr_assert(h_wait_log(&h, "[lua/store] on_uninstall ran; the store kept: on_install on_uninstall"));
}

/* lua_ticks returns how often lua/manager's tick_beat ("beat", the manifest's timer), tick_a ("a") or tick_b
 * ("b") ran. */
static int64_t lua_ticks(const char *which)
{
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(h_call_json(c, "lmgr.ticks", "[]", 5000, &res, &e), 0, "%s", e.message);
    int64_t n = bay_value_int(bay_map_get(res, which));
    bay_value_free(res);
    return n;
}

/* A count of ticks for h_wait_until to see passed. */
typedef struct tick_goal {
    const char *which;
    int64_t n;
} tick_goal;

static bool ticked_past(void *arg)
{
    const tick_goal *g = arg;
    return lua_ticks(g->which) > g->n;
}

/* wait_ticks waits until which ticked more than `more` times from now, saying why. */
static void wait_ticks(const char *which, int64_t more, const char *why)
{
    tick_goal g = {which, lua_ticks(which) + more};
    cr_assert(h_wait_until(ticked_past, &g, H_WAIT_MS), "%s: %s stayed at %lld ticks", why, which,
              (long long)lua_ticks(which));
}

/* call_value calls ext with args_json, asserts it answers, and returns its result (the caller frees it). */
static bay_value *call_value(const char *ext, const char *args_json)
{
    bay_value *res = NULL;
    bay_error e;
    int rc = h_call_json(c, ext, args_json, 5000, &res, &e);
    cr_assert_eq(rc, 0, "%s%s: %s: %s", ext, args_json, bay_errname(rc), e.message);
    return res;
}

/* entry returns the map of array list whose field key is value, or NULL. */
static const bay_value *entry(const bay_value *list, const char *key, const char *value)
{
    for (size_t i = 0; i < bay_value_len(list); i++) {
        const char *s = bay_value_str(bay_map_get(bay_array_get(list, i), key), NULL);
        if (s && strcmp(s, value) == 0)
            return bay_array_get(list, i);
    }
    return NULL;
}

/* expect_timer asserts that plugbay.timer.list() holds timer name calling function every interval_ms, set at run
 * time or not. */
static void expect_timer(const char *name, int64_t interval_ms, const char *function, bool at_run_time)
{
    bay_value *list = call_value("lmgr.timers", "[]");
    const bay_value *t = entry(list, "name", name);
    cr_assert(t, "plugbay.timer.list() lacks %s", name);
    cr_assert_eq(bay_value_int(bay_map_get(t, "interval_ms")), interval_ms, "%s", name);
    cr_assert_str_eq(bay_value_str(bay_map_get(t, "function"), NULL), function, "%s", name);
    cr_assert_eq(bay_value_bool(bay_map_get(t, "set_at_run_time")), at_run_time, "%s", name);
    bay_value_free(list);
}

/* expect_caught runs lmgr.caught with args_json (lib, fn, arguments...) and asserts the error table it raises:
 * code, a message "plugbay.LIB.FN: ... (CODE)" holding says, and tostring the message. */
static void expect_caught(const char *args_json, int code, const char *says)
{
    bay_value *res = call_value("lmgr.caught", args_json);
    const char *message = bay_value_str(bay_map_get(res, "message"), NULL);
    char suffix[64];
    snprintf(suffix, sizeof suffix, "(%s)", bay_errname(code));
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "type"), NULL), "table", "%s raised no table", args_json);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "code"), NULL), bay_errname(code), "%s", args_json);
    cr_assert(message && strncmp(message, "plugbay.", 8) == 0 && strstr(message, says) && strstr(message, suffix),
              "%s: %s", args_json, message);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "text"), NULL), message, "tostring(err) is not its message");
    bay_value_free(res);
}

Test(lua, timers_from_the_manifest_and_on_load_tick_and_plugbay_timer_sets_moves_and_removes_them)
{
    start_one("lua/manager");
    wait_ticks("a", 2, "the timer on_load set");
    wait_ticks("beat", 2, "the manifest's timer");
    expect_timer("boot", 20, "tick_a", true);
    expect_timer("beat", 20, "tick_beat", false);
    expect_json("lmgr.timer_set", "[\"fast\", 10, \"tick_b\"]", "true");
    wait_ticks("b", 3, "a timer set at run time");
    expect_timer("fast", 10, "tick_b", true);
    /* Moved to a day: it does not tick again while "beat" ticks on. */
    expect_json("lmgr.timer_set", "[\"fast\", 86400000, \"tick_b\"]", "true");
    expect_timer("fast", 86400000, "tick_b", true);
    int64_t was = lua_ticks("b");
    wait_ticks("beat", 5, "beat beside a timer moved to a day");
    cr_assert_leq(lua_ticks("b"), was + 1, "a timer moved to a day ticked on"); /* one tick may have been on its way */
    /* Moved back to 10 ms, then removed: it stops. */
    expect_json("lmgr.timer_set", "[\"fast\", 10, \"tick_b\"]", "true");
    wait_ticks("b", 2, "a timer moved back to 10 ms");
    expect_json("lmgr.timer_remove", "[\"fast\"]", "true");
    was = lua_ticks("b");
    wait_ticks("beat", 5, "beat beside a removed timer");
    cr_assert_leq(lua_ticks("b"), was + 1, "a removed timer ticked on");
    bay_value *list = call_value("lmgr.timers", "[]");
    cr_assert_null(entry(list, "name", "fast"), "plugbay.timer.list() still has the removed timer");
    bay_value_free(list);
    expect_caught("[\"timer\", \"remove\", \"fast\"]", BAY_ENOENT, "lua/manager has no timer \"fast\"");
}

Test(lua, bad_timers_raise_the_error_table_saying_why_and_the_others_tick_on)
{
    start_one("lua/manager");
    expect_caught("[\"timer\", \"set\", \"t\", 0, \"tick_b\"]", BAY_EINVAL,
                  "plugbay.timer.set: timer t: the interval is from 1 to 86400000 ms (one day), got 0");
    expect_caught("[\"timer\", \"set\", \"t\", 86400001, \"tick_b\"]", BAY_EINVAL,
                  "the interval is from 1 to 86400000 ms (one day), got 86400001");
    expect_caught("[\"timer\", \"set\", \"t\", 10, \"no_such\"]", BAY_EINVAL,
                  "plugbay.timer.set: timer t: the plugin has no function \"no_such\"");
    expect_caught("[\"timer\", \"set\", \"bad name\", 10, \"tick_b\"]", BAY_EINVAL,
                  "plugbay.timer.set: a timer's name is 1 to 128 of A-Z a-z 0-9 _ . : -, got \"bad name\"");
    bay_error err;
    expect_code("lmgr.timer_set", "[\"t\", 1.5, \"tick_b\"]", 5000, BAY_EPLUGIN, "lua/manager", &err);
    cr_assert(strstr(err.message, "bad argument #2 to 'set' (number has no integer representation)"), "%s",
              err.message);
    /* 64 at most: the manifest's "beat" and on_load's "boot" count. */
    char args[100];
    for (int i = 1; i <= 62; i++) {
        snprintf(args, sizeof args, "[\"t%d\", 86400000, \"tick_b\"]", i);
        expect_json("lmgr.timer_set", args, "true");
    }
    expect_caught("[\"timer\", \"set\", \"one-more\", 10, \"tick_b\"]", BAY_EBUSY,
                  "plugbay.timer.set: lua/manager has 64 timers, the most a plugin may have: remove one first");
    expect_json("lmgr.timer_set", "[\"t1\", 20, \"tick_b\"]", "true"); /* moving one is no new one */
    wait_ticks("b", 2, "a moved timer");
    wait_ticks("beat", 3, "beat after the refusals");
}

/* state_of returns the state of plugin id (static). */
static const char *state_of(const char *id)
{
    static char state[32];
    h_plugin_state(c, id, state, sizeof state, NULL, 0);
    return state;
}

Test(lua, plugbay_plugins_manages_what_its_pattern_covers_and_no_other)
{
    start_with((const char *[]){"lua/manager", "test/slow", NULL}, NULL);
    bay_value *list = call_value("lmgr.list", "[]");
    cr_assert(entry(list, "id", "lua/manager") && entry(list, "id", "test/slow"), "it lists itself and test/slow");
    cr_assert_null(entry(list, "id", "example/hello"), "it lists example/hello, which plugins.manage:test/* lacks");
    cr_assert_str_eq(bay_value_str(bay_map_get(entry(list, "id", "test/slow"), "state"), NULL), "loaded");
    bay_value_free(list);
    bay_value *state = call_value("lmgr.manage", "[\"unload\", \"test/slow\"]");
    cr_assert_str_eq(bay_value_str(bay_map_get(state, "id"), NULL), "test/slow");
    cr_assert_str_eq(bay_value_str(bay_map_get(state, "state"), NULL), "unloading", "it answers before the drain");
    bay_value_free(state);
    cr_assert(h_wait_state(c, "test/slow", "stopped", H_WAIT_MS), "test/slow is %s", state_of("test/slow"));
    state = call_value("lmgr.manage", "[\"load\", \"test/slow\"]");
    cr_assert_str_eq(bay_value_str(bay_map_get(state, "id"), NULL), "test/slow");
    bay_value_free(state);
    cr_assert(h_wait_state(c, "test/slow", "loaded", H_WAIT_MS), "test/slow is %s", state_of("test/slow"));
    expect_caught("[\"plugins\", \"unload\", \"example/hello\"]", BAY_EPERM,
                  "plugbay.plugins.unload: lua/manager may not unload example/hello: it was not granted "
                  "plugins.manage:example/hello (or plugins.manage)");
    expect_caught("[\"plugins\", \"load\", \"test/nosuch\"]", BAY_ENOENT, "no plugin \"test/nosuch\"");
    cr_assert_str_eq(state_of("example/hello"), "loaded");
}

Test(lua, a_lua_plugin_unloads_itself_in_the_middle_of_a_call_which_answers)
{
    start_with((const char *[]){"lua/manager", "test/slow", NULL}, NULL);
    expect_json("lmgr.unload_self", "[]", "{\"state\": \"unloading\", \"after\": \"still running\"}");
    cr_assert(h_wait_state(c, "lua/manager", "stopped", H_WAIT_MS), "lua/manager is %s", state_of("lua/manager"));
    cr_assert_str_eq(state_of("test/slow"), "loaded");
}

/* expect_emit_error asserts what lstream.ext raised (a map {ok, code, message}): not ok, code, message holding says. */
static void expect_emit_error(const char *ext, const char *code, const char *says)
{
    bay_value *res = call_value(ext, "[]");
    const char *message = bay_value_str(bay_map_get(res, "message"), NULL);
    cr_assert_not(bay_value_bool(bay_map_get(res, "ok")), "%s: plugbay.emit did not raise", ext);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "code"), NULL), code, "%s: %s", ext, message);
    cr_assert(message && strstr(message, says), "%s: %s", ext, message);
    bay_value_free(res);
}

Test(lua, plugbay_emit_misused_is_a_clear_error_and_the_plugin_goes_on)
{
    start_one("lua/stream");
    pid_t pid = h_worker_pid(c, "lua/stream");
    expect_emit_error("lstream.outside", "BAY_ESTATE", "plugbay.emit: no call is running");
    expect_emit_error("lstream.caught", "BAY_ETYPE", "plugbay.emit: chunk: is a function, which cannot cross a call");
    expect_failure("lstream.bad", BAY_EPLUGIN, "lua/stream",
                   (const char *[]){"lua/stream/main.lua:29:", "plugbay.emit: chunk: is a function", "(BAY_ETYPE)",
                                    NULL});
    /* A failure of bay_call_emit ends the call with its code and the worker library's message. */
    bay_error err;
    expect_code("lstream.big", "[20]", 20000, BAY_EINVAL, "lua/stream", &err);
    cr_assert(strstr(err.message, "lstream.big: the chunks emitted add up to more than one answer holds") &&
                  strstr(err.message, "read it as a stream"),
              "%s", err.message);
    expect_json("lstream.ping", "[]", "\"pong\"");
    cr_assert_eq(h_worker_pid(c, "lua/stream"), pid, "lua/stream was restarted");
}

/* upload starts conform.upload(what) at conform/lua within timeout_ms, sends it the ints 0 to n - 1 (and the end
 * of its input when end), and returns the stream. */
static bay_stream *upload(const char *what, int64_t n, bool end, int timeout_ms)
{
    bay_value *args = bay_array();
    bay_array_push(args, bay_str(what));
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_upload(c, "conform.upload", args, &(bay_call_opts){.timeout_ms = timeout_ms,
                                 .context = "conform/lua"}, &s, &err), 0, "%s", err.message);
    bay_value_free(args);
    for (int64_t i = 0; i < n; i++) {
        bay_value *v = bay_int(i);
        cr_assert_eq(bay_stream_send(s, v, -1, &err), 0, "chunk %lld: %s", (long long)i, err.message);
        bay_value_free(v);
    }
    cr_assert(!end || bay_stream_send_end(s, &err) == 0, "%s", err.message);
    return s;
}

/* expect_next asserts that s's next chunk renders as want_json (NULL: the stream ended). */
static void expect_next(bay_stream *s, const char *want_json)
{
    bay_value *v = NULL, *want = NULL;
    bay_error err;
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert_eq(want_json == NULL, v == NULL, "wanted %s", want_json ? want_json : "the end");
    cr_assert(want_json == NULL || (bay_value_from_json(want_json, &want, NULL, 0) == 0 && bay_value_equal(v, want)),
              "a chunk is not %s", want_json);
    bay_value_free(v);
    bay_value_free(want);
}

Test(lua, plugbay_receive_takes_a_hosts_streamed_input)
{
    start_with((const char *[]){"conform/lua", "lua/stream", NULL}, NULL);
    pid_t pid = h_worker_pid(c, "conform/lua");
    bay_stream *s = upload("sum", 200, true, 60000);
    expect_next(s, "{\"chunks\": 200, \"sum\": 19900, \"bytes\": 0}");
    expect_next(s, NULL);
    bay_stream_free(s);

    s = upload("echo", 0, false, 60000);
    for (int64_t i = 0; i < 100; i++) { /* both ways at once: each chunk comes back before the next goes */
        bay_value *v = bay_int(i * 3);
        char want[32];
        cr_assert_eq(bay_stream_send(s, v, -1, NULL), 0);
        bay_value_free(v);
        snprintf(want, sizeof want, "%lld", (long long)(i * 3));
        expect_next(s, want);
    }
    cr_assert_eq(bay_stream_send_end(s, NULL), 0);
    expect_next(s, NULL);
    bay_stream_free(s);

    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("sum"));
    bay_error err;
    cr_assert_eq(bay_call(c, "conform.upload", args, &(bay_call_opts){.context = "conform/lua"}, &res, &err),
                 BAY_EINVAL, "receiving in a call without input is an error");
    cr_assert(strstr(err.message, "its caller sends no input"), "%s", err.message);
    bay_value_free(args);
    expect_emit_error("lstream.receive_outside", "BAY_ESTATE", "plugbay.receive: no call is running");
    bay_value *caught = call_value("lstream.no_input", "[]");
    cr_assert_not(bay_value_bool(bay_map_get(caught, "ok")));
    cr_assert_eq(bay_value_int(bay_map_get(caught, "code")), BAY_EINVAL);
    cr_assert(strstr(bay_value_str(bay_map_get(caught, "message"), NULL), "plugbay.receive:"));
    bay_value_free(caught);

    bay_stream_free(upload("sum", 10, false, 60000)); /* abandoned: plugbay.receive stops the function */
    s = upload("sum", 1, false, 800);                     /* and no end: the deadline stops it */
    cr_assert_eq(bay_stream_next(s, -1, &res, &err), BAY_ETIMEDOUT, "%s", err.message);
    bay_stream_free(s);
    s = upload("early", 1, false, 60000);
    expect_next(s, "\"early\"");
    expect_next(s, NULL);
    bay_stream_free(s);
    cr_assert_eq(h_worker_pid(c, "conform/lua"), pid, "conform/lua was restarted");
}
