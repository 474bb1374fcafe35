/* tests/e2e/test_kit.c — the plugin authors' kit: plugbay new makes a plugin of each language that plugbay test
 * passes unchanged (its real build included), and bad input, broken test files, failed builds and failing cases
 * are each said clearly. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static harness h;

static void start(void)
{
    h_setup(&h, NULL); /* only its temporary folder: plugbay test starts a plugbayd of its own */
}

static void stop(void)
{
    h_cleanup(&h);
}

TestSuite(kit, .init = start, .fini = stop, .timeout = 300);

typedef struct output {
    int status;
    char out[16384], err[8192];
} output;

/* plugbay runs plugbay with the given words (NULL-terminated). */
static void plugbay(output *o, const char *const *words)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay"};
    size_t n = 1;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    o->status = h_run(&h, argv, o->out, sizeof o->out, o->err, sizeof o->err);
}

/* folder writes DIR/name's path into path. */
static void folder(const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", h.dir, name);
}

/* write_file writes text to the file DIR/name. */
static void write_file(const char *name, const char *text)
{
    char path[600];
    folder(name, path, sizeof path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* read_file reads the file DIR/name into text (len bytes, NUL-terminated). */
static void read_file(const char *name, char *text, size_t len)
{
    char path[600];
    folder(name, path, sizeof path);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    text[fread(text, 1, len - 1, f)] = '\0';
    fclose(f);
}

/* made runs plugbay new --lang lang ID DIR/name and asserts it succeeded; path receives DIR/name. */
static void made(const char *lang, const char *id, const char *name, char *path, size_t len)
{
    output o;
    folder(name, path, len);
    plugbay(&o, (const char *[]){"new", "--lang", lang, id, path, NULL});
    cr_assert_eq(o.status, 0, "new --lang %s: %s%s", lang, o.out, o.err);
    cr_assert(strstr(o.out, id), "%s", o.out);
}

/* new_then_test makes a plugin in lang and asserts that plugbay test passes every case of it. */
static void new_then_test(const char *lang)
{
    char path[600], id[64], name[64];
    snprintf(id, sizeof id, "kit/%s-made", lang);
    snprintf(name, sizeof name, "%s-made", lang);
    made(lang, id, name, path, sizeof path);
    output o;
    plugbay(&o, (const char *[]){"test", path, NULL});
    cr_assert_eq(o.status, 0, "test of the %s template: stdout: %s\nstderr: %s", lang, o.out, o.err);
    cr_assert(strstr(o.out, "ok   greets by name") || strstr(o.out, "ok   cube root"), "%s", o.out);
    cr_assert(strstr(o.out, " passed, 0 failed\n"), "%s", o.out);
    cr_assert_null(strstr(o.out, "FAIL"), "%s", o.out);
}

Test(kit, a_new_c_plugin_passes_its_tests) { new_then_test("c"); }
Test(kit, a_new_lua_plugin_passes_its_tests) { new_then_test("lua"); }
Test(kit, a_new_python_plugin_passes_its_tests) { new_then_test("python"); }
Test(kit, a_new_wasm_plugin_passes_its_tests) { new_then_test("wasm"); }
Test(kit, a_new_ffi_binding_passes_its_tests) { new_then_test("ffi"); }

Test(kit, new_makes_a_c_plugin_with_a_makefile_using_pkg_config)
{
    char path[600], file[700];
    made("c", "kit/files", "files", path, sizeof path);
    const char *names[] = {"plugin.json", "plugin.c", "Makefile", "tests.json", "README.md"};
    struct stat st;
    for (size_t i = 0; i < 5; i++) {
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        cr_assert_eq(stat(file, &st), 0, "%s was not made", file);
    }
    char text[8192];
    read_file("files/Makefile", text, sizeof text);
    cr_assert(strstr(text, "pkg-config --cflags plugbay") && strstr(text, "PLUGBAY_INCLUDE"), "%s", text);
    read_file("files/plugin.json", text, sizeof text);
    cr_assert(strstr(text, "\"id\": \"kit/files\"") && strstr(text, "\"version\": \"0.1.0\"") &&
              strstr(text, "\"files.greet\""), "%s", text);
}

Test(kit, new_refuses_an_unknown_language_and_lists_the_known)
{
    output o;
    plugbay(&o, (const char *[]){"new", "--lang", "cobol", "kit/x", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "cobol") && strstr(o.err, "c, lua, python, wasm, ffi"), "%s", o.err);
}

Test(kit, new_needs_a_language)
{
    output o;
    plugbay(&o, (const char *[]){"new", "kit/x", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "new needs --lang"), "%s", o.err);
}

Test(kit, new_refuses_an_invalid_id)
{
    output o;
    plugbay(&o, (const char *[]){"new", "--lang", "lua", "kit/../x", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "\"kit/../x\" is not a plugin id"), "%s", o.err);
}

Test(kit, new_never_overwrites_a_folder_that_is_not_empty)
{
    char path[600];
    made("lua", "kit/once", "once", path, sizeof path);
    write_file("once/main.lua", "-- mine\n");
    output o;
    plugbay(&o, (const char *[]){"new", "--lang", "c", "kit/once", path, NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "exists and is not empty") && strstr(o.err, "BAY_EEXIST"), "%s", o.err);
    char text[64];
    read_file("once/main.lua", text, sizeof text);
    cr_assert_str_eq(text, "-- mine\n");
}

/* tested writes text as the tests.json of a new Lua plugin and runs plugbay test on it. */
static void tested(output *o, const char *name, const char *text)
{
    char path[600], file[700];
    char id[64];
    snprintf(id, sizeof id, "kit/%s", name);
    made("lua", id, name, path, sizeof path);
    snprintf(file, sizeof file, "%s/tests.json", name);
    write_file(file, text);
    plugbay(o, (const char *[]){"test", path, NULL});
}

Test(kit, a_test_file_with_a_syntax_error_is_refused_with_line_and_column)
{
    output o;
    tested(&o, "syntax", "{\"cases\": [\n  {\"name\": \"a\", \"call\": \"syntax.greet\",, \"args\": []}]}\n");
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "tests.json: line 2 column ") && strstr(o.err, "BAY_EINVAL"), "%s", o.err);
    cr_assert_null(strstr(o.out, "passed"), "no case should run: %s", o.out);
}

Test(kit, a_case_with_an_unknown_field_is_refused_with_its_number)
{
    output o;
    tested(&o, "field", "{\"cases\": [{\"name\": \"a\", \"call\": \"field.greet\", \"args\": [\"x\"]},\n"
                        "{\"name\": \"b\", \"call\": \"field.greet\", \"expcet\": 1}]}");
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "tests.json: case 2 (\"b\"): unknown field \"expcet\""), "%s", o.err);
}

Test(kit, a_case_with_both_expect_and_error_is_refused)
{
    output o;
    tested(&o, "both", "{\"cases\": [{\"name\": \"a\", \"call\": \"both.greet\", \"args\": [1], \"expect\": 1, "
                       "\"error\": \"BAY_ETYPE\"}]}");
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "case 1 (\"a\"): a case has \"expect\" (a result) or \"error\" (a failure), not both"),
              "%s", o.err);
}

Test(kit, an_unknown_escape_is_refused)
{
    output o;
    tested(&o, "escape", "{\"cases\": [{\"name\": \"a\", \"call\": \"escape.greet\", \"args\": [{\"$bytes\": \"00\"}]}]}");
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "case 1 (\"a\"): field \"args\": {\"$bytes\": ...} is no escape"), "%s", o.err);
}

Test(kit, a_failing_case_shows_the_call_what_was_expected_what_came_and_the_log)
{
    output o;
    tested(&o, "fails", "{\"cases\": [\n"
           " {\"name\": \"passes\", \"call\": \"fails.greet\", \"args\": [\"a\"], \"expect\": \"Hello, a!\"},\n"
           " {\"name\": \"wrong\", \"call\": \"fails.greet\", \"args\": [\"b\", {\"$bin\": \"00ff\"}], "
           "\"expect\": {\"$float\": \"nan\"}},\n"
           " {\"name\": \"wrong error\", \"call\": \"fails.greet\", \"args\": [1], \"error\": \"BAY_ETYPE\"},\n"
           " {\"name\": \"logs\", \"emit\": \"fails.started\", \"expect\": [\"someone else\"]}]}\n");
    cr_assert_eq(o.status, 1, "%s", o.out);
    cr_assert(strstr(o.out, "ok   passes\n"), "%s", o.out);
    cr_assert(strstr(o.out, "FAIL wrong\n     call     fails.greet [\"b\",{\"$bin\":\"00ff\"}]\n"
                            "     expected {\"$float\":\"nan\"}\n     got      \"Hello, b!\"\n"), "%s", o.out);
    cr_assert(strstr(o.out, "FAIL wrong error\n") && strstr(o.out, "expected error BAY_ETYPE\n") &&
              strstr(o.out, "got      error BAY_EPLUGIN: kit/fails: ") && strstr(o.out, "must be a name"), "%s", o.out);
    cr_assert(strstr(o.out, "FAIL logs\n     emit     fails.started []\n") &&
              strstr(o.out, "[kit/fails] the application started"), "the event's log line: %s", o.out);
    cr_assert(strstr(o.out, "1 passed, 3 failed\n"), "%s", o.out);
    cr_assert(strstr(o.err, "3 of 4 cases failed"), "%s", o.err);
}

Test(kit, a_build_that_fails_is_shown_and_nothing_runs)
{
    char path[600];
    made("c", "kit/broken", "broken", path, sizeof path);
    write_file("broken/plugin.c", "this is not C\n");
    output o;
    for (const char *const *command = (const char *[]){"test", "dev", NULL}; *command; command++) {
        plugbay(&o, (const char *[]){*command, path, NULL});
        cr_assert_eq(o.status, 1, "%s", *command);
        cr_assert(strstr(o.out, "plugin.c:1") && strstr(o.err, "the build failed: `make -C "), "%s: out: %s\nerr: %s",
                  *command, o.out, o.err);
        cr_assert_null(strstr(o.out, "passed"), "%s", o.out);
    }
}

Test(kit, a_plugin_that_does_not_load_is_shown_with_its_log)
{
    char path[600];
    made("lua", "kit/noload", "noload", path, sizeof path);
    write_file("noload/main.lua", "error('not today')\n");
    output o;
    plugbay(&o, (const char *[]){"test", path, NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "kit/noload did not load: failed: ") && strstr(o.err, "not today") &&
              strstr(o.err, "kit/noload's log lines:"), "%s", o.err);
}

Test(kit, a_folder_without_plugin_json_is_refused)
{
    char path[600];
    folder("empty", path, sizeof path);
    mkdir(path, 0700);
    output o;
    plugbay(&o, (const char *[]){"test", path, NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "has no plugin.json") && strstr(o.err, "plugbay new"), "%s", o.err);
    plugbay(&o, (const char *[]){"dev", path, NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "has no plugin.json"), "%s", o.err);
}

Test(kit, a_dependency_given_with_with_is_loaded_beside)
{
    char path[600], dep[600];
    made("lua", "kit/dep", "dep", dep, sizeof dep);
    made("lua", "kit/user", "user", path, sizeof path);
    write_file("user/tests.json", "{\"cases\": [{\"name\": \"the other answers\", \"call\": \"dep.greet\", "
                                  "\"args\": [\"u\"], \"expect\": \"Hello, u!\"}]}");
    output o;
    plugbay(&o, (const char *[]){"test", path, "--with", dep, NULL});
    cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "ok   the other answers\n1 passed, 0 failed\n"), "%s", o.out);
}

Test(kit, values_cross_with_their_escapes_and_compare_exactly)
{
    output o;
    char path[600];
    made("lua", "kit/echo", "echo", path, sizeof path);
    write_file("echo/main.lua", "return {greet = function(x) return x end, started = function() return 1 end, "
                                "selftest = function() end}\n");
    write_file("echo/tests.json", "{\"timeout_ms\": 3000, \"cases\": [\n"
               " {\"name\": \"bin\", \"call\": \"echo.greet\", \"args\": [{\"$bin\": \"00ff\"}], \"expect\": {\"$bin\": \"00ff\"}},\n"
               " {\"name\": \"raw str\", \"call\": \"echo.greet\", \"args\": [{\"$str\": \"61006200\"}], "
               "\"expect\": {\"$str\": \"61006200\"}},\n"
               " {\"name\": \"nan\", \"call\": \"echo.greet\", \"args\": [{\"$float\": \"nan\"}], \"expect\": {\"$float\": \"nan\"}},\n"
               " {\"name\": \"-0.0\", \"call\": \"echo.greet\", \"args\": [{\"$float\": \"-0.0\"}], \"expect\": {\"$float\": \"-0.0\"}},\n"
               " {\"name\": \"inf\", \"call\": \"echo.greet\", \"args\": [{\"$float\": \"-inf\"}], \"expect\": {\"$float\": \"-inf\"}},\n"
               " {\"name\": \"map\", \"call\": \"echo.greet\", \"args\": [{\"$map\": {\"$k\": [1, 2.5, null, true]}}], "
               "\"expect\": {\"$map\": {\"$k\": [1, 2.5, null, true]}}, \"timeout_ms\": 1000},\n"
               " {\"name\": \"zero is not -0.0\", \"call\": \"echo.greet\", \"args\": [{\"$float\": \"-0.0\"}], \"expect\": 0.0},\n"
               " {\"name\": \"an int is not a float\", \"call\": \"echo.greet\", \"args\": [{\"$float\": 2}], \"expect\": 2}]}\n");
    plugbay(&o, (const char *[]){"test", path, NULL});
    cr_assert_eq(o.status, 1, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "ok   bin\nok   raw str\nok   nan\nok   -0.0\nok   inf\nok   map\n"), "%s", o.out);
    cr_assert(strstr(o.out, "FAIL zero is not -0.0\n     call     echo.greet [{\"$float\":\"-0.0\"}]\n"
                            "     expected 0.0\n     got      {\"$float\":\"-0.0\"}\n"), "%s", o.out);
    cr_assert(strstr(o.out, "FAIL an int is not a float\n     call     echo.greet [2.0]\n"
                            "     expected 2\n     got      2.0\n"), "%s", o.out);
    cr_assert(strstr(o.out, "6 passed, 2 failed\n"), "%s", o.out);
}

/* A plugbay test interrupted, and where it keeps its folder. */
typedef struct interrupted {
    pid_t pid;
    int status;
    char log[900]; /* its private plugbayd's log, once known */
} interrupted;

/* sleeping tells whether the private plugbayd's log says the slow call began (finding the log first). */
static bool sleeping(void *arg)
{
    interrupted *t = arg;
    char pattern[700];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s/plugbay-kit-*/plugbayd.log", h.dir);
    if (!t->log[0] && glob(pattern, 0, NULL, &g) == 0) {
        snprintf(t->log, sizeof t->log, "%s", g.gl_pathv[0]);
        globfree(&g);
    }
    char line[2048];
    FILE *f = t->log[0] ? fopen(t->log, "r") : NULL;
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, "going to sleep") != NULL;
    if (f)
        fclose(f);
    return found;
}

static bool ended(void *arg)
{
    interrupted *t = arg;
    return waitpid(t->pid, &t->status, WNOHANG) == t->pid;
}

Test(kit, ctrl_c_stops_the_run_and_removes_the_private_plugbayd)
{
    char path[600], tmp[700], out[700];
    made("c", "kit/slow", "slow", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s/plugin.c", path);
    h_edit_file(tmp, "    const char *name;", "    bay_plugin_log(BAY_LOG_INFO, \"going to sleep\");\n    sleep(60);\n"
                                             "    const char *name;");
    h_edit_file(tmp, "#include <stdlib.h>", "#include <stdlib.h>\n#include <unistd.h>");
    write_file("slow/tests.json", "{\"cases\": [{\"name\": \"sleeps\", \"call\": \"slow.greet\", \"args\": [\"z\"], "
                                  "\"timeout_ms\": 120000}]}");
    snprintf(tmp, sizeof tmp, "TMPDIR=%s", h.dir);
    snprintf(out, sizeof out, "%s/slow.out", h.dir);
    char *env[] = {tmp, "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "test", path, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    interrupted t = {0};
    cr_assert_eq(posix_spawn(&t.pid, argv[0], &fa, NULL, (char **)argv, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert(h_wait_until(sleeping, &t, 120000), "the slow call did not begin (log %s)", t.log);
    kill(t.pid, SIGINT);
    cr_assert(h_wait_until(ended, &t, H_WAIT_MS), "plugbay test went on after SIGINT");
    cr_assert(WIFEXITED(t.status) && WEXITSTATUS(t.status) == 1, "status 0x%x", t.status);
    char text[4096];
    read_file("slow.out", text, sizeof text);
    cr_assert(strstr(text, "(interrupted)"), "%s", text);
    glob_t g;
    char pattern[700];
    snprintf(pattern, sizeof pattern, "%s/plugbay-kit-*", h.dir);
    cr_assert_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH, "left behind: %s", g.gl_pathc ? g.gl_pathv[0] : "");
}

/* The Lua and Python templates keep assertions in the plugin's own language, in a handle tests.json calls in the
 * context "test": a failed one fails that case with the assertion's message and line. */
Test(kit, a_failed_assertion_in_the_plugins_own_language_fails_its_case_saying_which)
{
    char path[600], file[700];
    output o;
    made("python", "kit/asserts", "asserts", path, sizeof path);
    snprintf(file, sizeof file, "%s/main.py", path);
    h_edit_file(file, "== \"Hello, Ada!\"", "== \"Hi, Ada!\"");
    plugbay(&o, (const char *[]){"test", path, NULL});
    cr_assert_eq(o.status, 1, "%s%s", o.out, o.err);
    cr_assert(strstr(o.out, "FAIL its own assertions\n     call     asserts.selftest [] in context test\n"), "%s",
              o.out);
    cr_assert(strstr(o.out, "AssertionError: greet greets by name (at main.py:"), "%s", o.out);
    cr_assert(strstr(o.out, "3 passed, 1 failed\n"), "%s", o.out);
}

/* The types file of the typed-stub tests: a handle with named, typed arguments and a filter. */
static const char stub_types[] =
    "{\"kit.lookup\": {\"kind\": \"handle\", \"types\": {\"args\": {\"type\": \"array\", \"prefixItems\": "
    "[{\"type\": \"string\", \"title\": \"key\"}, {\"type\": \"integer\", \"title\": \"limit\"}, {\"type\": "
    "\"object\"}]}, \"result\": {\"type\": [\"object\", \"null\"]}}},\n"
    " \"kit.saving\": {\"kind\": \"filter\", \"types\": {\"args\": {\"type\": \"array\", \"prefixItems\": "
    "[{\"type\": \"string\", \"title\": \"path\"}, {\"type\": \"binary\", \"title\": \"data\"}]}}}}\n";

/* The cases run against the stubs: each refuses until written, its arguments are checked by plugbayd, and the
 * filter passes its arguments on. */
static const char stub_cases[] =
    "{\"cases\": [\n"
    " {\"name\": \"the stub refuses until written\", \"call\": \"kit.lookup\", \"args\": [\"k\", 2, {}], "
    "\"error\": \"BAY_EPLUGIN\", \"message\": \"kit.lookup is not written yet\"},\n"
    " {\"name\": \"plugbayd checks the arguments\", \"call\": \"kit.lookup\", \"args\": [1, 2, {}], "
    "\"error\": \"BAY_ETYPE\", \"message\": \"at [0]: expected string, got int\"},\n"
    " {\"name\": \"the filter passes its arguments on\", \"call\": \"kit.saving\", \"args\": [\"p\", {\"$bin\": "
    "\"00ff\"}], \"expect\": [\"p\", {\"$bin\": \"00ff\"}]},\n"
    " {\"name\": \"and they are checked\", \"call\": \"kit.saving\", \"args\": [\"p\", \"not bytes\"], "
    "\"error\": \"BAY_ETYPE\", \"message\": \"at [1]: expected binary, got str\"}\n"
    "]}\n";

/* typed_stubs_then_test makes a plugin in lang with --types, runs the stubs' cases and asserts all pass. */
static void typed_stubs_then_test(const char *lang)
{
    char path[600], types[600], id[64], name[64], cases[80];
    snprintf(id, sizeof id, "kit/%s-typed", lang);
    snprintf(name, sizeof name, "%s-typed", lang);
    write_file("types.json", stub_types);
    folder("types.json", types, sizeof types);
    folder(name, path, sizeof path);
    output o;
    plugbay(&o, (const char *[]){"new", "--lang", lang, "--types", types, id, path, NULL});
    cr_assert_eq(o.status, 0, "new --types: %s%s", o.out, o.err);
    cr_assert(strstr(o.out, "with typed stubs"), "%s", o.out);
    snprintf(cases, sizeof cases, "%s/tests.json", name);
    write_file(cases, stub_cases);
    plugbay(&o, (const char *[]){"test", path, NULL});
    cr_assert_eq(o.status, 0, "test of the %s stubs: stdout: %s\nstderr: %s", lang, o.out, o.err);
    cr_assert(strstr(o.out, "4 passed, 0 failed\n"), "%s", o.out);
}

Test(kit, typed_stubs_in_c_build_load_and_have_their_values_checked) { typed_stubs_then_test("c"); }
Test(kit, typed_stubs_in_lua_load_and_have_their_values_checked) { typed_stubs_then_test("lua"); }
Test(kit, typed_stubs_in_python_load_and_have_their_values_checked) { typed_stubs_then_test("python"); }
Test(kit, typed_stubs_in_wasm_build_load_and_have_their_values_checked) { typed_stubs_then_test("wasm"); }

Test(kit, bad_types_for_new_are_refused_and_leave_no_folder)
{
    const struct {
        const char *lang, *types, *says;
    } bad[] = {
        {"lua", "{\"x.y\": {\"types\": {\"args\": {\"tpye\": \"array\"}}}}",
         "--types: \"x.y\".types: \"args\": schema at /: unknown keyword \"tpye\""},
        {"lua", "{\"x.y\": {\"kind\": \"stream\", \"types\": {}}}", "\"x.y\".kind must be \"handle\", \"event\" or"},
        {"lua", "{\"x.y\": {\"kind\": \"handle\"}}", "\"x.y\" has no \"types\""},
        {"lua", "{\"x.y\": {\"kind\": \"event\", \"types\": {\"input\": {\"type\": \"array\"}}}}",
         "--types: \"x.y\".types: \"input\" types a handle's streamed input; an event takes none"},
        {"lua", "{\"x.y\": {\"types\": {}, \"colour\": 1}}", "holds \"kind\" and \"types\", not \"colour\""},
        {"lua", "{}", "must be an object naming at least one extension point"},
        {"lua", "{\"x.y\": ", "types.json:1:"},
        {"python", "{\"bad.greet\": {\"types\": {}}}", "\"bad.greet\" (function bad_greet) is provided by the template"},
        {"ffi", "{\"x.y\": {\"types\": {}}}", "a library binding (ffi) is typed by its C signatures"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[600], types[600];
        write_file("types.json", bad[i].types);
        folder("types.json", types, sizeof types);
        folder("bad", path, sizeof path);
        output o;
        plugbay(&o, (const char *[]){"new", "--lang", bad[i].lang, "--types", types, "kit/bad", path, NULL});
        cr_assert_eq(o.status, 1, "case %zu: %s%s", i, o.out, o.err);
        cr_assert(strstr(o.err, bad[i].says), "case %zu: %s", i, o.err);
        cr_assert(access(path, F_OK) != 0, "case %zu left %s", i, path);
    }
}
