/* tests/e2e/test_python.c — Python plugins end to end: calls and values, errors with tracebacks, the restricted policy's refusals, runaway calls, broken plugins, plugbay.emit and generators misused, and input taken with plugbay.inputs(). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* setup lays out ids (NULL-terminated) for the broker; start starts it and connects. */
static void setup(const char *const *ids)
{
    h_setup(&h, ids);
}

static void start(void)
{
    h_start(&h, NULL);
    c = h_connect(&h, "test-python");
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

/* start_loaded starts the broker with ids and waits until each of them is loaded. */
static void start_loaded(const char *const *ids)
{
    setup(ids);
    start();
    h_wait_loaded(c, ids);
}

/* expect_error calls name and checks the code, that the error names plugin,
 * and that its message holds every needle (NULL-terminated). */
static void expect_error(const char *name, const char *args_json, int code, const char *plugin,
                         const char *const *needles)
{
    bay_value *res;
    bay_error err = {0};
    int rc = h_call_json(c, name, args_json, 20000, &res, &err);
    bay_value_free(res);
    cr_assert_eq(rc, code, "%s: got %s: %s", name, bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, plugin);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(strstr(err.message, needles[i]), "%s: \"%s\" is not in: %s", name, needles[i], err.message);
}

/* expect_str calls name and checks that it answers the string want. */
static void expect_str(const char *name, const char *args_json, const char *want)
{
    bay_value *res;
    bay_error err = {0};
    cr_assert_eq(h_call_json(c, name, args_json, 5000, &res, &err), 0, "%s: %s", name, err.message);
    cr_assert_eq(bay_value_type(res), BAY_STR, "%s answered a %s", name, bay_type_name(bay_value_type(res)));
    cr_assert_str_eq(bay_value_str(res, NULL), want);
    bay_value_free(res);
}

/* expect_others_answer checks that a C plugin and a Python plugin still serve. */
static void expect_others_answer(void)
{
    expect_str("greet", "[\"still\"]", "Hello, still!");
    expect_str("py.ping", "[]", "pong");
}

/* expect_failed_load waits until plugin id failed to load and checks that its reason holds every needle. */
static void expect_failed_load(const char *id, const char *const *needles)
{
    cr_assert(h_wait_state(c, id, "failed", H_WAIT_MS), "%s did not fail", id);
    char state[64], reason[1024];
    h_plugin_state(c, id, state, sizeof state, reason, sizeof reason);
    cr_assert(strstr(reason, "load failed"), "%s: reason: %s", id, reason);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(strstr(reason, needles[i]), "%s: \"%s\" is not in the reason: %s", id, needles[i], reason);
    expect_others_answer();
}

/* ---- calls and values -------------------------------------------------------- */

static void start_calls(void)
{
    const char *ids[] = {"example/hello", "example/py-hello", "example/audit", "python/escapes", "python/timer",
                         NULL};
    start_loaded(ids);
}

TestSuite(python_calls, .init = start_calls, .fini = stop, .timeout = 120);

Test(python_calls, greets_with_its_config_and_its_own_module)
{
    expect_str("py.greet", "[\"world\"]", "Hello, world!");
    expect_str("py.greet", "[[\"Ada\", \"Grace\", \"Alan\"]]", "Hello, Ada, Grace and Alan!");
}

Test(python_calls, event_reaches_the_python_plugin_in_load_order)
{
    bay_value *res;
    bay_error err;
    cr_assert_eq(h_call_json(c, "app.started", "[]", 5000, &res, &err), 0, "%s", err.message);
    const char *order[] = {"example/hello", "example/py-hello", "example/audit"};
    cr_assert_eq(bay_value_len(res), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(res, i), "plugin"), NULL), order[i]);
    const bay_value *py = bay_map_get(bay_array_get(res, 1), "value");
    cr_assert_str_eq(bay_value_str(bay_map_get(py, "language"), NULL), "python");
    cr_assert_eq(bay_value_int(bay_map_get(py, "count")), 1);
    bay_value_free(res);
}

Test(python_calls, values_cross_unchanged_both_ways)
{
    bay_value *args = bay_array(), *m = bay_map(), *list = bay_array(), *res = NULL;
    bay_map_set(m, "bin", bay_bin("a\0b\xff", 4));
    bay_map_set(m, "min", bay_int(INT64_MIN));
    bay_map_set(m, "max", bay_int(INT64_MAX));
    bay_map_set(m, "f", bay_float(-0.5));
    bay_map_set(m, "nil", bay_nil());
    bay_map_set(m, "yes", bay_bool(true));
    bay_array_push(list, bay_map());
    bay_array_push(list, bay_array());
    bay_map_set(m, "list", list);
    bay_array_push(args, m);
    bay_array_push(args, bay_strn("x\0y", 3));
    bay_array_push(args, bay_strn("not utf-8: \xff\xfe", 13));
    bay_array_push(args, bay_str("h\xc3\xa9llo"));
    bay_error err;
    cr_assert_eq(bay_call(c, "py.echo", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert(bay_value_equal(args, res));
    bay_value_free(args);
    bay_value_free(res);
}

Test(python_calls, exception_reaches_the_caller_with_its_type_message_and_the_plugins_own_traceback)
{
    const char *needles[] = {"ValueError: n must not be negative, got -1", "at main.py:",
                             " in check, `raise ValueError", "called from main.py:", " in fail", NULL};
    expect_error("py.fail", "[]", BAY_EPLUGIN, "python/escapes", needles);
    bay_value *res;
    bay_error err;
    h_call_json(c, "py.fail", "[]", 5000, &res, &err);
    cr_assert_null(strstr(err.message, "policy"), "the bridge's own frames show: %s", err.message);
    cr_assert_null(strstr(err.message, "/usr/lib"), "the library's frames show: %s", err.message);
}

Test(python_calls, wrong_arguments_are_a_type_error_naming_the_function)
{
    const char *needles[] = {"ping() takes 0 positional arguments but 1 was given", NULL};
    expect_error("py.ping", "[1]", BAY_ETYPE, "python/escapes", needles);
}

Test(python_calls, results_python_cannot_carry_are_refused_with_their_place)
{
    const char *big[] = {"big returned a value plugbay cannot carry", "result is an int beyond 64 bits", NULL};
    expect_error("py.big", "[]", BAY_ETYPE, "python/escapes", big);
    const char *set[] = {"result[\"a\"] has type set", NULL};
    expect_error("py.a_set", "[]", BAY_ETYPE, "python/escapes", set);
    expect_str("py.ping", "[]", "pong");
}

Test(python_calls, plugin_calls_other_plugins_through_plugbay_call)
{
    expect_str("py.call", "[\"greet\", \"from python\"]", "Hello, from python!");
    bay_value *res;
    bay_error err;
    cr_assert_eq(h_call_json(c, "py.call", "[\"no.such\"]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "name"), NULL), "BAY_ENOENT");
    cr_assert(strstr(bay_value_str(bay_map_get(res, "error"), NULL), "no.such"));
    bay_value_free(res);
}

Test(python_calls, running_call_is_visible_to_the_plugin)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_call_opts o = {.timeout_ms = 4000, .context = "gui"};
    bay_error err;
    cr_assert_eq(bay_call(c, "py.running", args, &o, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "name"), NULL), "py.running");
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "context"), NULL), "gui");
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "id"), NULL), "python/escapes");
    cr_assert_eq(bay_value_bool(bay_map_get(res, "cancelled")), false);
    int64_t left = bay_value_int(bay_map_get(res, "remaining_ms"));
    cr_assert(left > 0 && left <= 4000, "remaining_ms %lld", (long long)left);
    bay_value_free(args);
    bay_value_free(res);
}

static bool ticked_thrice(void *arg)
{
    bay_value *res;
    bay_error err;
    bool done = h_call_json(c, "timer.ticks", "[]", 5000, &res, &err) == 0 && bay_value_int(bay_map_get(res, "count")) >= 3;
    if (done)
        cr_assert_str_eq(bay_value_str(bay_array_get(bay_map_get(res, "names"), 0), NULL), "timer:tick");
    bay_value_free(res);
    return done;
}

Test(python_calls, timers_call_their_function)
{
    cr_assert(h_wait_until(ticked_thrice, NULL, H_WAIT_MS), "python/timer's tick did not run three times");
}

Test(python_calls, on_unload_and_on_load_keep_state_in_the_data_folder)
{
    expect_str("py.greet", "[[\"Ada\", \"Grace\", \"Alan\"]]", "Hello, Ada, Grace and Alan!");
    bay_error err;
    /* Unloaded, then loaded: a reload would load the new worker before the old one's on_unload ran. */
    cr_assert_eq(h_command(c, "unload", "example/py-hello", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "example/py-hello", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/py-hello", "loaded", H_WAIT_MS));
    bay_value *res;
    cr_assert_eq(h_call_json(c, "app.started", "[]", 5000, &res, &err), 0, "%s", err.message);
    const bay_value *py = bay_map_get(bay_array_get(res, 1), "value");
    cr_assert_eq(bay_value_int(bay_map_get(py, "greeted")), 3, "on_unload wrote the tally, on_load read it back");
    bay_value_free(res);
}

Test(python_calls, every_module_of_the_allowlist_works_under_the_audit_hook)
{
    bay_value *res;
    bay_error err;
    cr_assert_eq(h_call_json(c, "py.library", "[]", 10000, &res, &err), 0, "%s", err.message);
    char *json = NULL;
    bay_value_to_json(res, &json);
    cr_assert_str_eq(json, "[\"b2s=\",\"01\",1,true,1.0,true,[{\"x\":1,\"y\":2}],\"a,1\\r\\n\",\"2026-11-23\","
                           "\"2.10\",true,\"RED\",\"1/3\",6,\"e3b0c442\",[1],true,\"&lt;\",\"127.0.0.1\",[0,1],[1],"
                           "1,\"a/b\",1,\"b\",8,2,\"0100\",\"a b [...]\",true,\"LATIN SMALL LETTER A\",\"a%20b\",4,"
                           "2363233923]");
    free(json);
    bay_value_free(res);
}

Test(python_calls, data_folder_is_the_plugins_to_write)
{
    expect_str("py.write_data", "[\"a note\"]", "a note");
}

/* ---- the restricted policy ----------------------------------------------------- */

static void start_policy(void)
{
    const char *ids[] = {"example/hello", "python/escapes", "python/granted", NULL};
    start_loaded(ids);
}

TestSuite(python_policy, .fini = stop, .timeout = 120);

Test(python_policy, open_etc_passwd_is_refused, .init = start_policy)
{
    const char *needles[] = {"PolicyError: open('/etc/passwd', 'r') is refused", "fs.read:/etc",
                             "at main.py:12 in read_passwd", NULL};
    expect_error("py.read_passwd", "[]", BAY_EPERM, "python/escapes", needles);
    expect_others_answer();
    cr_assert(h_wait_refused(c, "python/escapes", "python open", 0), "info does not count the refused open");
    cr_assert_eq(h_refused(c, "python/granted", NULL), 0, "a plugin that tried nothing has refusals counted");
}

Test(python_policy, getattr_with_a_built_dunder_name_is_refused, .init = start_policy)
{
    const char *needles[] = {"PolicyError: attribute '__globals__' is refused", "in getattr_globals", NULL};
    expect_error("py.getattr_globals", "[]", BAY_EPERM, "python/escapes", needles);
    expect_others_answer();
}

Test(python_policy, type_of_a_lambda_is_refused, .init = start_policy)
{
    const char *needles[] = {"PolicyError: type() of a function object is refused", "in type_lambda", NULL};
    expect_error("py.type_lambda", "[]", BAY_EPERM, "python/escapes", needles);
    expect_others_answer();
}

Test(python_policy, format_string_cannot_read_private_attributes, .init = start_policy)
{
    const char *needles[] = {"PolicyError: format field attribute '__class__' is refused", NULL};
    expect_error("py.format_dunder", "[]", BAY_EPERM, "python/escapes", needles);
    expect_others_answer();
}

Test(python_policy, audit_hook_refuses_what_granted_modules_reach_without_permission, .init = start_policy)
{
    const char *system[] = {"os.system(b'id') is refused", "process.spawn", NULL};
    expect_error("granted.system", "[]", BAY_EPERM, "python/granted", system);
    const char *subprocess[] = {"is refused", "process.spawn", "at main.py:13 in start_program", NULL};
    expect_error("granted.subprocess", "[]", BAY_EPERM, "python/granted", subprocess);
    const char *sock[] = {"socket.", "is refused", "net.connect:HOST:PORT", NULL};
    expect_error("granted.socket", "[]", BAY_EPERM, "python/granted", sock);
    const char *fork[] = {"os.fork() is refused", "not fork-safe", NULL};
    expect_error("granted.fork", "[]", BAY_EPERM, "python/granted", fork);
    const char *root[] = {"os.listdir('/') is refused", "fs.read:/", NULL};
    expect_error("granted.listdir", "[\"/\"]", BAY_EPERM, "python/granted", root);
    const char *rm[] = {"os.remove('/tmp/plugbay-never-there') is refused", "data folder", NULL};
    expect_error("granted.remove", "[\"/tmp/plugbay-never-there\"]", BAY_EPERM, "python/granted", rm);
    const char *etc[] = {"open('/etc/hostname', 'r') is refused", NULL};
    expect_error("granted.read", "[\"/etc/hostname\"]", BAY_EPERM, "python/granted", etc);
    expect_others_answer();
}

Test(python_policy, granted_folders_stay_open, .init = start_policy)
{
    bay_value *res;
    bay_error err;
    cr_assert_eq(h_call_json(c, "granted.read", "[\"/etc/os-release\"]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert(strstr(bay_value_str(res, NULL), "NAME="), "read: %s", bay_value_str(res, NULL));
    bay_value_free(res);
    cr_assert_eq(h_call_json(c, "granted.listdir", "[null]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_type(res), BAY_ARRAY);
    bay_value_free(res);
}

/* start_refused starts python/escapes and example/hello beside the plugin id the source check refuses. */
static void start_refused(const char *id)
{
    const char *ids[] = {"example/hello", "python/escapes", id, NULL};
    setup(ids);
    start();
    h_wait_loaded(c, (const char *[]){"example/hello", "python/escapes", NULL}); /* the bystanders answer after */
}

Test(python_policy, subclasses_walk_is_refused_at_load)
{
    start_refused("python/refuse-subclasses");
    const char *needles[] = {"PolicyError: main.py:5:", "attribute \"__subclasses__\" is refused",
                             "attribute \"__class__\" is refused", NULL};
    expect_failed_load("python/refuse-subclasses", needles);
}

Test(python_policy, dunder_import_is_refused_at_load)
{
    start_refused("python/refuse-import");
    const char *needles[] = {"PolicyError: main.py:5:12: name \"__import__\" is refused", NULL};
    expect_failed_load("python/refuse-import", needles);
}

Test(python_policy, import_ctypes_is_refused_at_load)
{
    start_refused("python/refuse-ctypes");
    const char *needles[] = {"PolicyError: main.py:5:5: import of module 'ctypes' is refused",
                             "python.import:ctypes", NULL};
    expect_failed_load("python/refuse-ctypes", needles);
}

Test(python_policy, eval_is_refused_at_load)
{
    start_refused("python/refuse-eval");
    const char *needles[] = {"PolicyError: main.py:5:12: eval is refused", NULL};
    expect_failed_load("python/refuse-eval", needles);
}

Test(python_policy, sys_modules_is_refused_at_load)
{
    start_refused("python/refuse-sys");
    const char *needles[] = {"PolicyError: main.py:2:1: import of module 'sys' is refused", NULL};
    expect_failed_load("python/refuse-sys", needles);
}

Test(python_policy, exception_in_on_load_fails_the_plugin_with_its_message)
{
    start_refused("python/onload-raises");
    const char *needles[] = {"on_load raised RuntimeError: missing license key", "at main.py:5 in license_key",
                             "called from main.py:9 in on_load", NULL};
    expect_failed_load("python/onload-raises", needles);
    bay_error err;
    cr_assert_eq(h_call_str(c, "onload.ping", NULL, 2000, NULL, 0, &err), BAY_ENOENT, "%s", err.message);
    cr_assert(strstr(err.message, "python/onload-raises provides it but is failed"), "%s", err.message);
}

Test(python_policy, a_hook_that_is_no_function_fails_the_load_naming_it)
{
    start_refused("python/badhook");
    const char *needles[] = {"main.py defines on_update as a str; it must be a function (or None for none)", NULL};
    expect_failed_load("python/badhook", needles);
}

/* ---- runaway calls --------------------------------------------------------------- */

static void start_limits(void)
{
    const char *ids[] = {"example/hello", "python/escapes", NULL};
    start_loaded(ids);
}

TestSuite(python_limits, .init = start_limits, .fini = stop, .timeout = 120);

/* expect_stopped calls name with a short deadline and checks that the worker
 * stopped the plugin's code itself: the same worker serves on at once and the
 * broker never had to kill it as hung. */
static void expect_stopped(const char *name, const char *args_json)
{
    pid_t before = h_worker_pid(c, "python/escapes");
    bay_value *res;
    bay_error err;
    long long t0 = h_now_ms();
    int rc = h_call_json(c, name, args_json, 300, &res, &err);
    cr_assert_eq(rc, BAY_ETIMEDOUT, "%s: got %s: %s", name, bay_errname(rc), err.message);
    cr_assert_str_eq(err.plugin, "python/escapes");
    cr_assert(h_now_ms() - t0 < 1300, "%s: the caller waited %lld ms for a 300 ms deadline", name, h_now_ms() - t0);
    expect_others_answer();
    cr_assert_eq(h_worker_pid(c, "python/escapes"), before, "%s: the worker was replaced", name);
    cr_assert(!h_log_contains(&h, "hung:"), "%s: the broker had to kill the worker", name);
}

Test(python_limits, infinite_loop_is_stopped_at_its_deadline)
{
    expect_stopped("py.spin", "[]");
}

Test(python_limits, except_exception_does_not_swallow_the_stop)
{
    expect_stopped("py.spin_catching", "[]");
}

Test(python_limits, sleep_is_woken_at_its_deadline)
{
    expect_stopped("py.sleep", "[3600]");
}

Test(python_limits, cancel_stops_a_running_loop)
{
    pid_t before = h_worker_pid(c, "python/escapes");
    bay_value *args = bay_array(), *res = NULL;
    bay_call_opts o = {.timeout_ms = 20000};
    bay_pending *p;
    bay_error err;
    cr_assert_eq(bay_call_async(c, "py.spin", args, &o, &p, &err), 0, "%s", err.message);
    cr_assert_eq(bay_pending_wait(p, 100, &res, &err), BAY_EPENDING, "still spinning after 100 ms");
    cr_assert_eq(bay_pending_cancel(p), 0);
    int rc = bay_pending_wait(p, -1, &res, &err);
    cr_assert_eq(rc, BAY_ECANCELED, "got %s: %s", bay_errname(rc), err.message);
    bay_pending_free(p);
    bay_value_free(args);
    expect_others_answer();
    cr_assert_eq(h_worker_pid(c, "python/escapes"), before, "the worker was replaced");
    cr_assert(!h_log_contains(&h, "hung:"));
}

Test(python_limits, endless_allocation_ends_with_a_memory_error_and_the_plugin_serves_on)
{
    pid_t before = h_worker_pid(c, "python/escapes");
    const char *big[] = {"MemoryError: the plugin's Python memory reached its cap of 64 MiB", "limits.python_memory_mb",
                         "at main.py:58 in hog", NULL};
    const char *small[] = {"MemoryError: the plugin's Python memory reached its cap of 64 MiB",
                           "at main.py:64 in hog_small", NULL};
    for (int round = 0; round < 2; round++) {
        expect_error("py.hog", "[]", BAY_ENOMEM, "python/escapes", big);
        expect_others_answer();
        expect_error("py.hog_small", "[]", BAY_ENOMEM, "python/escapes", small);
        expect_others_answer();
    }
    cr_assert_eq(h_worker_pid(c, "python/escapes"), before, "the worker was replaced");
}

/* ---- broken plugins ------------------------------------------------------------------ */

/* expect_broken starts python/escapes and example/hello beside a copy of
 * python/escapes' code named python/broken with the manifest text, and checks
 * that python/broken fails to load with every needle in its reason. */
static void expect_broken(const char *manifest, const char *const *needles)
{
    const char *ids[] = {"example/hello", "python/escapes", NULL};
    setup(ids);
    h_clone_plugin(&h, "python/escapes", "python/broken", manifest);
    start();
    cr_assert(h_wait_state(c, "python/escapes", "loaded", H_WAIT_MS));
    expect_failed_load("python/broken", needles);
}

/* BROKEN is python/broken's manifest with entry, the function serving broken.ping and extra fields. */
#define BROKEN(entry, function, extra)                                                                          \
    "{\"name\": \"broken\", \"version\": \"0.1.0\", \"language\": \"python\", \"entry\": \"" entry "\", "       \
    "\"provides\": [{\"name\": \"broken.ping\", \"kind\": \"handle\", \"function\": \"" function "\"}]" extra "}"

TestSuite(python_broken, .fini = stop, .timeout = 120);

Test(python_broken, syntax_error_is_named_with_its_file_and_line)
{
    start_refused("python/syntax-error");
    const char *needles[] = {"SyntaxError: expected ':' (main.py, line 4)", NULL};
    expect_failed_load("python/syntax-error", needles);
}

Test(python_broken, function_the_manifest_names_but_the_module_lacks_is_named)
{
    const char *needles[] = {"plugin.json names function \"nothere\" but main.py does not define it",
                             "it defines: ", "ping", NULL};
    expect_broken(BROKEN("main.py", "nothere", ""), needles);
}

Test(python_broken, missing_entry_file_is_named)
{
    const char *needles[] = {"FileNotFoundError", "absent.py", NULL};
    expect_broken(BROKEN("absent.py", "ping", ""), needles);
}

/* expect_invalid clones python/broken with manifest: plugbayd refuses it before any worker starts, saying text. */
static void expect_invalid(const char *manifest, const char *text)
{
    const char *ids[] = {"example/hello", "python/escapes", NULL};
    setup(ids);
    h_clone_plugin(&h, "python/escapes", "python/broken", manifest);
    start();
    cr_assert(h_wait_state(c, "python/broken", "invalid", H_WAIT_MS), "python/broken is not invalid");
    char state[64], reason[1024];
    h_plugin_state(c, "python/broken", state, sizeof state, reason, sizeof reason);
    cr_assert(strstr(reason, text), "\"%s\" is not in the reason: %s", text, reason);
    cr_assert(h_wait_state(c, "python/escapes", "loaded", H_WAIT_MS));
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS)); /* it may still start under load */
    expect_others_answer();
}

Test(python_broken, entry_that_is_not_python_is_refused)
{
    expect_invalid(BROKEN("main.txt", "ping", ""), "field \"entry\": \"main.txt\" is not a .py file");
}

Test(python_broken, memory_cap_that_is_not_a_number_is_refused)
{
    expect_invalid(BROKEN("main.py", "ping", ", \"limits\": {\"python_memory_mb\": \"lots\"}"),
                   "field \"limits.python_memory_mb\": expected a whole number of MiB from 32 to 65536, got \"lots\"");
    stop();
    expect_invalid(BROKEN("main.py", "ping", ", \"limits\": {\"python_memory_mb\": 16}"),
                   "field \"limits.python_memory_mb\": expected a whole number of MiB from 32 to 65536, got 16");
}

Test(python_broken, a_limit_of_another_language_is_refused)
{
    expect_invalid(BROKEN("main.py", "ping", ", \"limits\": {\"lua_memory_mb\": 16}"),
                   "field \"limits.lua_memory_mb\": only a plugin with \"language\": \"lua\" has it");
}

Test(python_broken, relative_fs_read_permission_is_refused)
{
    const char *needles[] = {"permission \"fs.read:etc\" must name an absolute path", NULL};
    expect_broken(BROKEN("main.py", "ping", ", \"permissions\": [\"fs.read:etc\"]"), needles);
}

Test(python_broken, malformed_module_permission_is_refused)
{
    const char *needles[] = {"permission \"python.import:os/path\" must name a module", NULL};
    expect_broken(BROKEN("main.py", "ping", ", \"permissions\": [\"python.import:os/path\"]"), needles);
}

/* ---- streamed answers: plugbay.emit and generator functions misused ------------ */

static void start_streams(void)
{
    start_loaded((const char *[]){"example/hello", "python/escapes", "python/stream", "conform/python", NULL});
}

TestSuite(python_streams, .init = start_streams, .fini = stop, .timeout = 120);

/* expect_closed checks that pystream.closed() lists the generators want (JSON) as those whose finally ran. */
static void expect_closed(const char *want)
{
    bay_value *res, *expected = NULL;
    bay_error err = {0};
    cr_assert_eq(h_call_json(c, "pystream.closed", "[]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_from_json(want, &expected, NULL, 0), 0);
    char *text = NULL;
    bay_value_to_json(res, &text);
    cr_assert(bay_value_equal(res, expected), "the generators closed are %s, not %s", text, want);
    free(text);
    bay_value_free(res);
    bay_value_free(expected);
}

Test(python_streams, emit_outside_a_call_or_of_a_value_that_cannot_cross_is_a_clear_error)
{
    expect_str("pystream.outside", "[]",
               "plugbay.emit: no call is running: a function emits while it serves a call, not while its module is "
               "imported, in on_load or in on_unload");
    bay_value *res;
    bay_error err = {0};
    cr_assert_eq(h_call_json(c, "pystream.caught", "[]", 5000, &res, &err), 0, "%s", err.message);
    const char *said = bay_value_str(res, NULL);
    cr_assert(said && strncmp(said, "plugbay.emit: the chunk has type set; ", 38) == 0, "%s", said);
    bay_value_free(res);
    const char *bad[] = {"TypeError: plugbay.emit: the chunk has type set", "at main.py:", " in bad", NULL};
    expect_error("pystream.bad", "[]", BAY_EPLUGIN, "python/stream", bad);
    /* A generator's value that cannot cross ends the call, and the generator is closed. */
    const char *yielded[] = {"yield_bad: the value it yielded has type set", NULL};
    expect_error("pystream.yield_bad", "[]", BAY_ETYPE, "python/stream", yielded);
    expect_closed("[\"yield_bad\"]");
    expect_others_answer();
}

Test(python_streams, a_failed_emit_ends_the_call_with_its_code_and_message_and_closes_the_generator)
{
    const char *past[] = {"the chunks emitted add up to more than one answer holds", "read it as a stream", NULL};
    expect_error("pystream.big", "[20]", BAY_EINVAL, "python/stream", past);
    expect_error("pystream.yield_big", "[20]", BAY_EINVAL, "python/stream", past);
    expect_closed("[\"yield_big\"]");
    /* Caught, it is a plugbay.Failure: the function goes on, its value the last of the chunks gathered. */
    bay_value *res;
    bay_error err = {0};
    cr_assert_eq(h_call_json(c, "pystream.big_caught", "[20]", 20000, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_type(res), BAY_ARRAY);
    const bay_value *last = bay_array_get(res, bay_value_len(res) - 1);
    cr_assert_eq(bay_value_int(bay_map_get(last, "code")), BAY_EINVAL);
    cr_assert_str_eq(bay_value_str(bay_map_get(last, "message"), NULL), "plugbay.emit: invalid argument (BAY_EINVAL)");
    bay_value_free(res);
    expect_others_answer();
}

/* ---- input: conform/python's conform.upload (plugbay.inputs()) and plugbay.receive misused ------------ */

/* open_upload starts conform.upload(what) at conform/python within timeout_ms and sends it count ints, i * step
 * for i from 0. */
static bay_stream *open_upload(const char *what, int count, int step, int timeout_ms)
{
    bay_value *args = bay_array(), *v;
    bay_array_push(args, bay_str(what));
    bay_stream *s = NULL;
    bay_error err = {0};
    bay_call_opts opts = {.timeout_ms = timeout_ms, .context = "conform/python"};
    cr_assert_eq(bay_call_upload(c, "conform.upload", args, &opts, &s, &err), 0, "%s", err.message);
    bay_value_free(args);
    for (int i = 0; i < count; i++) {
        cr_assert_eq(bay_stream_send(s, v = bay_int((int64_t)i * step), -1, &err), 0, "chunk %d: %s", i, err.message);
        bay_value_free(v);
    }
    return s;
}

/* next_is asserts that s gives next the int want, or (end) that it ended. */
static void next_is(bay_stream *s, int64_t want, bool end)
{
    bay_value *v = NULL;
    bay_error err = {0};
    cr_assert_eq(bay_stream_next(s, -1, &v, &err), 0, "%s", err.message);
    cr_assert(end ? v == NULL : bay_value_type(v) == BAY_INT && bay_value_int(v) == want, "not %s%lld",
              end ? "the end, " : "", (long long)want);
    bay_value_free(v);
}

Test(python_streams, plugbay_inputs_takes_a_hosts_streamed_input)
{
    pid_t pid = h_worker_pid(c, "conform/python");
    bay_stream *s = open_upload("sum", 200, 1, 60000);
    cr_assert_eq(bay_stream_send_end(s, NULL), 0);
    bay_value *v = NULL;
    cr_assert_eq(bay_stream_next(s, -1, &v, NULL), 0);
    cr_assert_eq(bay_value_int(bay_map_get(v, "chunks")), 200);
    cr_assert_eq(bay_value_int(bay_map_get(v, "sum")), 19900);
    bay_value_free(v);
    next_is(s, 0, true);
    bay_stream_free(s);

    s = open_upload("echo", 0, 0, 60000);
    for (int i = 0; i < 100; i++) { /* both ways at once: each chunk comes back before the next goes */
        cr_assert_eq(bay_stream_send(s, v = bay_int(i * 5), -1, NULL), 0);
        bay_value_free(v);
        next_is(s, i * 5, false);
    }
    cr_assert_eq(bay_stream_send_end(s, NULL), 0);
    next_is(s, 0, true);
    bay_stream_free(s);

    bay_stream_free(open_upload("sum", 10, 1, 60000)); /* abandoned: plugbay.inputs() stops the function */
    s = open_upload("sum", 1, 1, 800);                     /* and no end: the deadline stops it */
    cr_assert_eq(bay_stream_next(s, -1, &v, NULL), BAY_ETIMEDOUT);
    bay_stream_free(s);
    s = open_upload("early", 1, 1, 60000);
    cr_assert_eq(bay_stream_next(s, -1, &v, NULL), 0);
    cr_assert_str_eq(bay_value_str(v, NULL), "early");
    bay_value_free(v);
    next_is(s, 0, true);
    bay_stream_free(s);
    cr_assert_eq(h_worker_pid(c, "conform/python"), pid, "conform/python was restarted");
}

Test(python_streams, receiving_without_input_or_outside_a_call_is_a_clear_error)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("sum"));
    bay_error err = {0};
    cr_assert_eq(bay_call(c, "conform.upload", args, &(bay_call_opts){.context = "conform/python"}, &res, &err),
                 BAY_EINVAL, "receiving in a call without input is an error");
    cr_assert(strstr(err.message, "its caller sends no input"), "%s", err.message);
    bay_value_free(args);
    expect_str("pystream.receive_outside", "[]",
               "plugbay.receive: no call is running: a function receives while it serves a call, not while its "
               "module is imported, in on_load or in on_unload");
    cr_assert_eq(h_call_json(c, "pystream.no_input", "[]", 5000, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(bay_map_get(res, "code")), BAY_EINVAL);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "message"), NULL), "plugbay.inputs: invalid argument (BAY_EINVAL)");
    bay_value_free(res);
    expect_others_answer();
}
