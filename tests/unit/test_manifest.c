/* tests/unit/test_manifest.c — plugin.json validation, loading and plugin discovery (broker/manifest.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, realpath */
#endif
#include <criterion/criterion.h>

#include <ftw.h>
#include <limits.h>
#include <plugbay/error.h>
#include <plugbay/plugbay.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"

#define PATH "plugins/x/plugin.json"

static const char *base_manifest =
    "{\"name\": \"hello\", \"version\": \"1.2.0\", \"language\": \"lua\", \"entry\": \"main.lua\", \"provides\": []}";

static char root[32];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/bay-manifest-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void remove_root(void) { nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

/* put writes text to root/rel, creating the folders on the way. */
static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* parse_text parses text as PATH; err gets the message. */
static int parse_text(const char *text, bay_error *err)
{
    bay__manifest *m = NULL;
    int rc = bay__manifest_parse(text, PATH, "/plugins/x", "x", &m, err);
    cr_assert_eq(rc == 0, m != NULL, "a manifest comes back exactly on success");
    bay__manifest_free(m);
    return rc;
}

/* parse_edit parses the base manifest with field key set to the JSON value
 * (NULL removes the field); within_provide edits provides[0] (or timers[0]
 * when within is "timers") instead of the top level. */
static int parse_edit(const char *within, const char *key, const char *value, bay_error *err)
{
    json_t *root_obj = json_loads(base_manifest, 0, NULL), *obj = root_obj;
    cr_assert_not_null(root_obj);
    if (within) {
        obj = strcmp(within, "timers") == 0 ? json_pack("{s:s, s:i}", "name", "tick", "interval_ms", 1000)
                                             : json_pack("{s:s, s:s}", "name", "editor.save", "kind", "handle");
        json_object_set_new(root_obj, within, json_pack("[o]", obj));
    }
    if (value)
        json_object_set_new(obj, key, json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL));
    else
        json_object_del(obj, key);
    char *text = json_dumps(root_obj, 0);
    int rc = parse_text(text, err);
    free(text);
    json_decref(root_obj);
    return rc;
}

/* expect_message asserts a BAY_EMANIFEST whose message is exactly PATH ": " want. */
static void expect_message(const char *within, const char *key, const char *value, const char *want)
{
    bay_error err = {0};
    cr_expect_eq(parse_edit(within, key, value, &err), BAY_EMANIFEST, "%s = %s accepted", key,
                 value ? value : "(removed)");
    cr_expect_str_eq(err.message, want);
}

/* expect_refused asserts a BAY_EMANIFEST whose message names PATH and contains field. */
static void expect_refused(const char *within, const char *key, const char *value, const char *field)
{
    bay_error err = {0};
    cr_expect_eq(parse_edit(within, key, value, &err), BAY_EMANIFEST, "%s = %s accepted", key,
                 value ? value : "(removed)");
    cr_expect(strncmp(err.message, PATH ": ", strlen(PATH ": ")) == 0, "message does not start with the file: %s",
              err.message);
    cr_expect(strstr(err.message, field) != NULL, "message does not name %s: %s", field, err.message);
}

static void expect_accepted(const char *within, const char *key, const char *value)
{
    bay_error err = {0};
    cr_expect_eq(parse_edit(within, key, value, &err), 0, "%s = %s refused: %s", key, value, err.message);
}

static const char *full_manifest =
    "{\n"
    "  \"name\": \"Hello\", \"version\": \"1.2.3-rc.1+b5\", \"language\": \"c\", \"entry\": \"lib/plugin.so\",\n"
    "  \"brief\": \"Says hello\", \"description\": \"A longer text.\", \"author\": \"Ada\",\n"
    "  \"site\": \"https://example.org\", \"email\": \"ada@example.org\", \"license\": \"MIT\",\n"
    "  \"host\": \"^0.1\", \"order\": -5,\n"
    "  \"provides\": [\n"
    "    {\"name\": \"editor.save\", \"kind\": \"handle\"},\n"
    "    {\"name\": \"app:start-up\", \"kind\": \"event\", \"function\": \"on_start\", \"contexts\": [\"gui\", "
    "\"cli\"]},\n"
    "    {\"name\": \"app:quit\", \"kind\": \"event\"}\n"
    "  ],\n"
    "  \"dependencies\": {\"example/base\": \">=1.0.0 <2.0.0\", \"util\": \"*\"},\n"
    "  \"permissions\": [\"net\", \"fs.read\"],\n"
    "  \"config\": {\"greeting\": \"hi\", \"n\": 3},\n"
    "  \"timers\": [{\"name\": \"tick\", \"interval_ms\": 1000},\n"
    "             {\"name\": \"slow\", \"interval_ms\": 86400000, \"function\": \"poll\"}]\n"
    "}\n";

Test(manifest, full_manifest_round_trips_into_the_struct, .init = make_root, .fini = remove_root)
{
    char dir[PATH_MAX], real[PATH_MAX];
    bay_error err = {0};
    bay__manifest *m = NULL;
    put("example/hello/plugin.json", full_manifest);
    cr_assert_eq(bay__manifest_load(root, "example/hello", &m, &err), 0, "%s", err.message);

    snprintf(dir, sizeof dir, "%s/example/hello", root);
    cr_assert_not_null(realpath(dir, real));
    cr_expect_str_eq(m->id, "example/hello");
    cr_expect_str_eq(m->dir, real);
    strcat(real, "/plugin.json");
    cr_expect_str_eq(m->path, real);
    cr_expect_str_eq(m->name, "Hello");
    cr_expect_str_eq(m->version, "1.2.3-rc.1+b5");
    cr_expect_eq(m->ver.major, 1);
    cr_expect_eq(m->ver.patch, 3);
    cr_expect_str_eq(m->ver.pre, "rc.1");
    cr_expect_str_eq(m->language, "c");
    cr_expect_str_eq(m->entry, "lib/plugin.so");
    cr_expect_str_eq(m->brief, "Says hello");
    cr_expect_str_eq(m->description, "A longer text.");
    cr_expect_str_eq(m->author, "Ada");
    cr_expect_str_eq(m->site, "https://example.org");
    cr_expect_str_eq(m->email, "ada@example.org");
    cr_expect_str_eq(m->license, "MIT");
    cr_expect_str_eq(m->host, "^0.1");
    cr_expect_eq(m->order, -5);

    cr_assert_eq(m->nprovides, 3);
    cr_expect_str_eq(m->provides[0].name, "editor.save");
    cr_expect_eq(m->provides[0].kind, BAY_HANDLE);
    cr_expect_str_eq(m->provides[0].function, "editor_save");
    cr_expect_null(m->provides[0].contexts);
    cr_expect_str_eq(m->provides[1].name, "app:start-up");
    cr_expect_eq(m->provides[1].kind, BAY_EVENT);
    cr_expect_str_eq(m->provides[1].function, "on_start");
    cr_assert_not_null(m->provides[1].contexts);
    cr_expect_str_eq(m->provides[1].contexts[0], "gui");
    cr_expect_str_eq(m->provides[1].contexts[1], "cli");
    cr_expect_null(m->provides[1].contexts[2]);
    cr_expect_str_eq(m->provides[2].function, "app_quit");

    cr_assert_eq(m->ndeps, 2);
    cr_expect_str_eq(m->deps[0].id, "example/base");
    cr_expect_str_eq(m->deps[0].range, ">=1.0.0 <2.0.0");
    cr_expect_str_eq(m->deps[1].id, "util");
    cr_expect_str_eq(m->deps[1].range, "*");

    cr_assert_eq(m->npermissions, 2);
    cr_expect_str_eq(m->permissions[0], "net");
    cr_expect_str_eq(m->permissions[1], "fs.read");
    cr_expect_null(m->permissions[2]);

    cr_expect_str_eq(json_string_value(json_object_get(m->config, "greeting")), "hi");
    cr_expect_eq(json_integer_value(json_object_get(m->config, "n")), 3);

    cr_assert_eq(m->ntimers, 2);
    cr_expect_str_eq(m->timers[0].name, "tick");
    cr_expect_str_eq(m->timers[0].function, "tick");
    cr_expect_eq(m->timers[0].interval_ms, 1000);
    cr_expect_str_eq(m->timers[1].function, "poll");
    cr_expect_eq(m->timers[1].interval_ms, 86400000);
    bay__manifest_free(m);
}

Test(manifest, minimal_manifest_gets_defaults)
{
    bay_error err = {0};
    bay__manifest *m = NULL;
    cr_assert_eq(bay__manifest_parse(base_manifest, PATH, "/p/x", "x", &m, &err), 0, "%s", err.message);
    cr_expect_null(m->host);
    cr_expect_null(m->brief);
    cr_expect_eq(m->order, 0);
    cr_expect_eq(m->nprovides, 0);
    cr_expect_eq(m->ndeps, 0);
    cr_expect_eq(m->ntimers, 0);
    cr_expect_null(m->permissions);
    cr_assert_not_null(m->config);
    cr_expect(json_is_object(m->config) && json_object_size(m->config) == 0);
    bay__manifest_free(m);
    bay__manifest_free(NULL);
}

Test(manifest, reports_json_syntax_errors_with_line_and_column)
{
    bay_error err = {0};
    cr_expect_eq(parse_text("{\n  \"name\": ,\n}", &err), BAY_EMANIFEST);
    cr_expect(strncmp(err.message, PATH ": line 2 column ", strlen(PATH ": line 2 column ")) == 0, "%s",
              err.message);
}

Test(manifest, refuses_duplicate_keys)
{
    bay_error err = {0};
    cr_expect_eq(parse_text("{\"name\": \"a\", \"name\": \"b\"}", &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "duplicate") != NULL, "%s", err.message);
}

Test(manifest, refuses_a_top_level_that_is_not_an_object)
{
    bay_error err = {0};
    cr_expect_eq(parse_text("[1, 2]", &err), BAY_EMANIFEST);
    cr_expect_str_eq(err.message, PATH ": expected a JSON object like {\"name\": \"hello\", ...}, got an array");
}

Test(manifest, refuses_each_missing_required_field)
{
    expect_message(NULL, "name", NULL,
                   PATH ": field \"name\": expected a non-empty string, got nothing (the field is required)");
    expect_refused(NULL, "version", NULL, "field \"version\": expected a semver string like \"1.2.0\", got nothing");
    expect_refused(NULL, "language", NULL, "field \"language\": expected one of");
    expect_refused(NULL, "entry", NULL, "field \"entry\": expected a relative path");
    expect_refused(NULL, "provides", NULL, "field \"provides\": expected an array");
    expect_refused("provides", "name", NULL, "field \"provides[0].name\": expected a name");
    expect_refused("provides", "kind", NULL, "field \"provides[0].kind\": expected \"handle\", \"event\" or \"filter\"");
    expect_refused("timers", "name", NULL, "field \"timers[0].name\"");
    expect_refused("timers", "interval_ms", NULL, "field \"timers[0].interval_ms\"");
}

Test(manifest, refuses_wrong_types)
{
    expect_message(NULL, "name", "5", PATH ": field \"name\": expected a non-empty string, got 5");
    expect_refused(NULL, "name", "\"\"", "field \"name\"");
    expect_refused(NULL, "name", "\"a\\u0000b\"", "line 1 column"); /* jansson refuses NUL */
    expect_refused(NULL, "brief", "[]", "field \"brief\": expected a string, got an array");
    expect_refused(NULL, "provides", "{}", "field \"provides\": expected an array of provides (it may be empty), "
                                           "got an object");
    expect_refused(NULL, "provides", "[\"x\"]", "field \"provides[0]\": expected an object");
    expect_refused(NULL, "order", "\"1\"", "field \"order\": expected an integer like -10 or 5, got \"1\"");
    expect_refused(NULL, "order", "1.5", "field \"order\": expected an integer like -10 or 5, got 1.5");
    expect_refused(NULL, "order", "4294967296", "field \"order\"");
    expect_refused(NULL, "config", "[]", "field \"config\": expected an object");
    expect_refused(NULL, "permissions", "\"net\"", "field \"permissions\": expected an array");
    expect_refused(NULL, "permissions", "[\"net\", \"\"]", "field \"permissions[1]\": expected a non-empty string");
    expect_refused(NULL, "dependencies", "[]", "field \"dependencies\": expected an object");
    expect_refused(NULL, "dependencies", "{\"../up\": \"1\"}", "field \"dependencies\": expected plugin ids");
    expect_refused(NULL, "dependencies", "{\"a/b\": 1}", "field \"dependencies.a/b\": expected a semver range");
    expect_refused(NULL, "timers", "{}", "field \"timers\": expected an array");
    expect_refused("provides", "contexts", "\"gui\"", "field \"provides[0].contexts\"");
    expect_refused("provides", "contexts", "[]", "field \"provides[0].contexts\": expected a non-empty array");
    expect_refused("provides", "contexts", "[\"gui\", 3]", "field \"provides[0].contexts[1]\"");
    expect_refused("provides", "types", "{\"inputs\": {}}", "field \"provides[0].types\": types hold \"args\", "
                   "\"result\" and \"input\", not \"inputs\"");
    expect_refused("provides", "types", "{\"input\": {\"type\": \"list\"}}", "field \"provides[0].types\": \"input\": ");
    expect_accepted("provides", "types", "{\"input\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}}");
}

Test(manifest, refuses_a_version_that_is_not_semver)
{
    expect_message(NULL, "version", "\"1.x\"",
                   PATH ": field \"version\": expected a semver string like \"1.2.0\", got \"1.x\"");
    expect_refused(NULL, "version", "\"1.2\"", "field \"version\"");
    expect_refused(NULL, "version", "\"v1.2.3\"", "field \"version\"");
}

Test(manifest, refuses_a_bad_host_or_dependency_range_with_the_reason)
{
    expect_message(NULL, "host", "\">=1.0 ||\"",
                   PATH ": field \"host\": expected a semver range like \"^1.2\" or \">=1.0.0 <2.0.0\", got "
                        "\">=1.0 ||\" (empty alternative (write \"*\" to accept any version))");
    expect_refused(NULL, "dependencies", "{\"util\": \"1.2.3.4\"}", "field \"dependencies.util\"");
    expect_accepted(NULL, "host", "\">=0.1.0 <0.3.0 || ^1\"");
}

Test(manifest, refuses_an_unknown_language_or_kind)
{
    expect_message(NULL, "language", "\"ruby\"",
                   PATH ": field \"language\": expected one of \"c\", \"lua\", \"python\", \"wasm\", got \"ruby\"");
    expect_message("provides", "kind", "\"handler\"",
                   PATH ": field \"provides[0].kind\": expected \"handle\", \"event\" or \"filter\", got \"handler\"");
}

Test(manifest, refuses_an_entry_outside_the_plugin_folder)
{
    expect_refused(NULL, "entry", "\"../x\"", "field \"entry\"");
    expect_refused(NULL, "entry", "\"/etc/passwd\"", "got \"/etc/passwd\"");
    expect_refused(NULL, "entry", "\"lib/../../x.so\"", "field \"entry\"");
    expect_refused(NULL, "entry", "\"lib//x.so\"", "field \"entry\"");
    expect_refused(NULL, "entry", "\"\"", "field \"entry\"");
    expect_accepted(NULL, "entry", "\"lib/x..so\"");
    expect_accepted(NULL, "entry", "\"./main.lua\"");
}

Test(manifest, checks_provide_names_and_functions)
{
    char long_name[160];
    memset(long_name, 'a', 131);
    long_name[0] = long_name[130] = '"';
    long_name[131] = '\0';
    expect_refused("provides", "name", "\"a b\"", "field \"provides[0].name\"");
    expect_refused("provides", "name", long_name, "field \"provides[0].name\"");
    long_name[129] = '"', long_name[130] = '\0';
    expect_accepted("provides", "name", long_name);
    expect_refused("provides", "function", "\"1abc\"", "field \"provides[0].function\": expected an identifier");
    expect_refused("provides", "function", "\"a.b\"", "field \"provides[0].function\"");
    expect_message("provides", "name", "\"3d.view\"",
                   PATH ": field \"provides[0].function\": expected an identifier like \"on_save\" (letters, digits "
                        "and \"_\", not starting with a digit), got nothing, and the name \"3d.view\" does not make "
                        "one (set \"function\")");
}

Test(manifest, refuses_unknown_fields_with_a_suggestion)
{
    expect_message(NULL, "verison", "\"1.0.0\"",
                   PATH ": field \"verison\" is not a manifest field (did you mean \"version\"?)");
    expect_message(NULL, "desc", "\"x\"", PATH ": field \"desc\" is not a manifest field (did you mean \"description\"?)");
    expect_message(NULL, "Name", "\"x\"", PATH ": field \"Name\" is not a manifest field (did you mean \"name\"?)");
    expect_message(NULL, "colour", "1", PATH ": field \"colour\" is not a manifest field (see docs/manifest.md)");
    expect_message("provides", "knd", "\"event\"",
                   PATH ": field \"provides[0].knd\" is not a provide field (did you mean \"kind\"?)");
    expect_message("timers", "interval", "5",
                   PATH ": field \"timers[0].interval\" is not a timer field (did you mean \"interval_ms\"?)");
}

Test(manifest, refuses_duplicate_provides_and_timers)
{
    expect_message(NULL, "provides",
                   "[{\"name\": \"a\", \"kind\": \"event\"}, {\"name\": \"b\", \"kind\": \"event\"}, "
                   "{\"name\": \"a\", \"kind\": \"handle\"}]",
                   PATH ": field \"provides[2].name\": expected a name no other item of the list has, got \"a\" "
                        "(provides[0] already has it)");
    expect_refused(NULL, "timers", "[{\"name\": \"t\", \"interval_ms\": 5}, {\"name\": \"t\", \"interval_ms\": 6}]",
                   "field \"timers[1].name\"");
}

Test(manifest, checks_timer_intervals)
{
    expect_message("timers", "interval_ms", "0",
                   PATH ": field \"timers[0].interval_ms\": expected an integer number of milliseconds from 1 to "
                        "86400000, got 0");
    expect_refused("timers", "interval_ms", "86400001", "field \"timers[0].interval_ms\"");
    expect_refused("timers", "interval_ms", "-5", "field \"timers[0].interval_ms\"");
    expect_refused("timers", "interval_ms", "\"1000\"", "field \"timers[0].interval_ms\"");
    expect_refused("timers", "interval_ms", "1.5", "field \"timers[0].interval_ms\"");
    expect_accepted("timers", "interval_ms", "1");
    expect_accepted("timers", "interval_ms", "86400000");
}

Test(manifest, quotes_long_or_odd_values_briefly)
{
    bay_error err = {0};
    cr_expect_eq(parse_edit(NULL, "language", "\"line\\nbreak-and-a-very-long-tail-that-goes-on-and-on-and-on-and-on\"",
                            &err),
                 BAY_EMANIFEST);
    cr_expect(strstr(err.message, "got \"line?break-") != NULL, "%s", err.message);
    cr_expect(strstr(err.message, "...\"") != NULL, "%s", err.message);
}

Test(manifest, load_reports_a_missing_file_as_io_error, .init = make_root, .fini = remove_root)
{
    char want[PATH_MAX + 64];
    bay_error err = {0};
    bay__manifest *m = NULL;
    cr_expect_eq(bay__manifest_load(root, "nope", &m, &err), BAY_EIO);
    cr_expect_null(m);
    snprintf(want, sizeof want, "%s/nope/plugin.json: No such file or directory", root);
    cr_expect_str_eq(err.message, want);
}

Test(manifest, load_names_the_file_in_schema_errors, .init = make_root, .fini = remove_root)
{
    char want[PATH_MAX + 128];
    bay_error err = {0};
    bay__manifest *m = NULL;
    put("x/plugin.json", "{\"name\": \"x\", \"version\": \"1.x\"}");
    cr_expect_eq(bay__manifest_load(root, "x", &m, &err), BAY_EMANIFEST);
    snprintf(want, sizeof want,
             "%s/x/plugin.json: field \"version\": expected a semver string like \"1.2.0\", got \"1.x\"", root);
    cr_expect_str_eq(err.message, want);
    cr_expect_eq(err.code, BAY_EMANIFEST);
    cr_expect_str_eq(err.plugin, "x", "the error names the plugin it is about");
}

Test(manifest, load_refuses_a_plugin_json_that_is_a_folder, .init = make_root, .fini = remove_root)
{
    bay_error err = {0};
    bay__manifest *m = NULL;
    put("x/plugin.json/inner", "");
    cr_expect_eq(bay__manifest_load(root, "x", &m, &err), BAY_EIO);
    cr_expect(strstr(err.message, "not a regular file") != NULL, "%s", err.message);
}

/* link_at makes root/rel a symbolic link to target. */
static void link_at(const char *target, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    cr_assert_eq(symlink(target, path), 0, "symlink %s -> %s", path, target);
}

/* load_code writes x/plugin.json with a C plugin whose code field ("entry"
 * or "library") is value, and loads it. */
static int load_code(const char *field, const char *value, bay_error *err)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\": \"x\", \"version\": \"1.0.0\", \"language\": \"c\", \"%s\": \"%s\", \"provides\": []}", field,
             value);
    put("x/plugin.json", text);
    bay__manifest *m = NULL;
    int rc = bay__manifest_load(root, "x", &m, err);
    cr_assert_eq(rc == 0, m != NULL, "a manifest comes back exactly on success");
    bay__manifest_free(m);
    return rc;
}

Test(manifest, load_takes_code_that_a_link_keeps_inside_the_plugin_folder, .init = make_root, .fini = remove_root)
{
    bay_error err = {0};
    put("x/real.so", "");
    put("x/lib/inner.so", "");
    link_at("real.so", "x/plugin.so");
    link_at("lib", "x/linked");
    cr_expect_eq(load_code("entry", "plugin.so", &err), 0, "%s", err.message);
    cr_expect_eq(load_code("entry", "linked/inner.so", &err), 0, "%s", err.message);
    cr_expect_eq(load_code("library", "linked/inner.so", &err), 0, "%s", err.message);
    cr_expect_eq(load_code("library", "libz.so.1", &err), 0, "a soname is the system's: %s", err.message);
    cr_expect_eq(load_code("entry", "missing.so", &err), 0, "the worker reports a missing file: %s", err.message);
}

Test(manifest, load_refuses_code_that_a_link_leads_outside_the_plugin_folder, .init = make_root,
     .fini = remove_root)
{
    char want[PATH_MAX + 512];
    bay_error err = {0};
    put("outside/hello.so", "");
    put("x/plugin.json", "");
    link_at("../outside/hello.so", "x/plugin.so");
    link_at("/etc", "x/etc");
    link_at("../outside", "x/ext");
    cr_expect_eq(load_code("entry", "plugin.so", &err), BAY_EMANIFEST);
    snprintf(want, sizeof want,
             "%s/x/plugin.json: field \"entry\": plugin.so leads through a symbolic link to %s/outside/hello.so, "
             "outside the plugin folder, which the sandbox would not let the plugin read; copy the file into the "
             "folder, or move the whole plugin folder into the plugins folder instead", root, root);
    cr_expect_str_eq(err.message, want);
    cr_expect_eq(load_code("entry", "etc/passwd", &err), BAY_EMANIFEST, "a linked folder counts too");
    cr_expect(strstr(err.message, "etc/passwd leads through a symbolic link to /etc/passwd, outside") != NULL, "%s",
              err.message);
    cr_expect_eq(load_code("library", "ext/hello.so", &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "field \"library\": ext/hello.so leads") != NULL, "%s", err.message);
}

Test(manifest, load_refuses_a_plugin_folder_a_link_leads_elsewhere, .init = make_root, .fini = remove_root)
{
    char want[PATH_MAX + 64];
    bay_error err = {0};
    put("elsewhere/x/plugin.so", "");
    put("elsewhere/x/plugin.json", "{\"name\": \"x\", \"version\": \"1.0.0\", \"language\": \"c\", "
                                   "\"entry\": \"plugin.so\", \"provides\": []}");
    put("plugins/.keep", "");
    link_at("../elsewhere/x", "plugins/x");
    char plugins[PATH_MAX];
    snprintf(plugins, sizeof plugins, "%s/plugins", root);
    bay__manifest *m = NULL;
    cr_assert_eq(bay__manifest_load(plugins, "x", &m, &err), BAY_EMANIFEST, "a linked folder was loaded");
    cr_assert_null(m);
    snprintf(want, sizeof want, "its folder leads through a symbolic link to %s/elsewhere/x: plugbayd follows no link",
             root);
    cr_expect(strstr(err.message, want) != NULL, "%s", err.message);
}

Test(manifest, load_refuses_a_fifo_as_plugin_json_without_waiting_on_it, .init = make_root, .fini = remove_root,
     .timeout = 10)
{
    char fifo[PATH_MAX];
    bay_error err = {0};
    bay__manifest *m = NULL;
    put("x/.keep", "");
    snprintf(fifo, sizeof fifo, "%s/x/plugin.json", root);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_expect_eq(bay__manifest_load(root, "x", &m, &err), BAY_EIO);
    cr_expect(strstr(err.message, "x/plugin.json: not a regular file") != NULL, "%s", err.message);
    cr_expect_null(m);
}

Test(manifest, load_refuses_a_manifest_over_1_mib, .init = make_root, .fini = remove_root)
{
    char file[PATH_MAX];
    bay_error err = {0};
    bay__manifest *m = NULL;
    put("x/.keep", "");
    snprintf(file, sizeof file, "%s/x/plugin.json", root);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, (1 << 20), SEEK_SET), 0);
    fputc(' ', f);
    fclose(f);
    cr_expect_eq(bay__manifest_load(root, "x", &m, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "x/plugin.json: 1048577 bytes, more than a manifest may have (1048576)") != NULL,
              "%s", err.message);
    cr_expect_null(m);
}

Test(manifest, load_refuses_ids_that_leave_the_plugins_folder)
{
    bay_error err = {0};
    bay__manifest *m = NULL;
    cr_expect_eq(bay__manifest_load("/tmp", "../etc", &m, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "\"../etc\" is not a plugin id") != NULL, "%s", err.message);
    cr_expect_str_eq(err.plugin, "", "what is not a plugin id names no plugin");
    cr_expect_eq(bay__manifest_load("/tmp", NULL, &m, &err), BAY_EINVAL);
}

Test(manifest, plugin_ids)
{
    const char *good[] = {"a", "example/hello", "a-b_c.d/E9", "x/y/z/w", "a..b"};
    const char *bad[] = {"", "/a", "a/", "a//b", ".hidden", "a/.git", "..", "a/../b", "a b", "a\\b", "é"};
    char long_id[BAY_PLUGIN_ID_MAX + 2];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(bay__plugin_id_valid(good[i]), "\"%s\" should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_not(bay__plugin_id_valid(bad[i]), "\"%s\" should be invalid", bad[i]);
    cr_expect_not(bay__plugin_id_valid(NULL));
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    cr_expect_not(bay__plugin_id_valid(long_id));
    long_id[sizeof long_id - 2] = '\0';
    cr_expect(bay__plugin_id_valid(long_id));
}

Test(manifest_scan, finds_nested_plugins_sorted_and_skips_hidden, .init = make_root, .fini = remove_root)
{
    const char *want[] = {"a", "d1/d2/d3/d4", "example/hello", "example/world", NULL};
    char **ids = NULL;
    bay_error err = {0};
    put("example/world/plugin.json", "{}");
    put("example/hello/plugin.json", "{}");
    put("example/.git/plugin.json", "{}");
    put(".hidden/x/plugin.json", "{}");
    put("a/plugin.json", "{}");
    put("a/inner/plugin.json", "{}");        /* inside a plugin: not a plugin of its own */
    put("d1/d2/d3/d4/plugin.json", "{}");    /* four levels: found */
    put("e1/e2/e3/e4/e5/plugin.json", "{}"); /* five levels: too deep */
    put("bad name/plugin.json", "{}");       /* not a plugin id */
    put("empty/readme.txt", "");
    put("notes.txt", "");
    cr_assert_eq(bay__manifest_scan(root, &ids, NULL, &err), 0, "%s", err.message);
    for (size_t i = 0; want[i] || ids[i]; i++) {
        cr_assert(want[i] && ids[i], "got %s, want %s at %zu", ids[i] ? ids[i] : "end", want[i] ? want[i] : "end",
                  i);
        cr_expect_str_eq(ids[i], want[i]);
    }
    bay__strv_free(ids);
}

/* gather_refused gathers what a scan refused, "path: why" each, in one buffer. */
static void gather_refused(const char *rel, const char *why, void *arg)
{
    char *all = arg;
    size_t n = strlen(all);
    snprintf(all + n, 4096 - n, "%s: %s\n", rel, why);
}

Test(manifest_scan, refuses_links_and_folders_no_id_can_name, .init = make_root, .fini = remove_root)
{
    char **ids = NULL, link[64], refused[4096] = "";
    bay_error err = {0};
    bay__scan_hooks hooks = {NULL, gather_refused, refused};
    put("real/plugin.json", "{}");
    put("me/ok/plugin.json", "{}");
    put("me/bad name/plugin.json", "{}");
    put("notes about it.txt", ""); /* a file, whatever its name: no plugin, nothing to say */
    snprintf(link, sizeof link, "%s/me/alias", root);
    cr_assert_eq(symlink("../real", link), 0);
    snprintf(link, sizeof link, "%s/elsewhere", root);
    cr_assert_eq(symlink("/etc", link), 0);
    cr_assert_eq(bay__manifest_scan(root, &ids, &hooks, &err), 0, "%s", err.message);
    cr_expect_str_eq(ids[0], "me/ok");
    cr_expect_str_eq(ids[1], "real");
    cr_expect_null(ids[2], "a link is no plugin: %s", ids[2] ? ids[2] : "");
    cr_expect(strstr(refused, "me/alias: a symbolic link (to ../real)"), "%s", refused);
    cr_expect(strstr(refused, "elsewhere: a symbolic link (to /etc)"), "%s", refused);
    cr_expect(strstr(refused, "me/bad name: not a plugin id"), "%s", refused);
    cr_expect_null(strstr(refused, "notes"), "%s", refused);
    bay__strv_free(ids);
}

/* note_folder counts the folders a scan says it reads (plugin false) and the plugin folders it finds. */
static void note_folder(const char *path, bool plugin, void *arg)
{
    int *counts = arg;
    (void)path;
    counts[plugin]++;
}

Test(manifest_scan, tells_each_folder_it_reads_and_each_plugin_folder, .init = make_root, .fini = remove_root)
{
    char **ids = NULL;
    int counts[2] = {0, 0};
    bay_error err = {0};
    bay__scan_hooks hooks = {note_folder, NULL, counts};
    put("a/plugin.json", "{}");
    put("a/inner/x.txt", "");
    put("me/b/plugin.json", "{}");
    put("me/c/plugin.json", "{}");
    cr_assert_eq(bay__manifest_scan(root, &ids, &hooks, &err), 0, "%s", err.message);
    cr_expect_eq(counts[0], 2, "the plugins folder and me/, got %d", counts[0]);
    cr_expect_eq(counts[1], 3, "a, me/b and me/c, got %d", counts[1]);
    bay__strv_free(ids);
}

Test(manifest_scan, an_empty_folder_has_no_plugins, .init = make_root, .fini = remove_root)
{
    char **ids = NULL;
    bay_error err = {0};
    cr_assert_eq(bay__manifest_scan(root, &ids, NULL, &err), 0, "%s", err.message);
    cr_assert_not_null(ids);
    cr_expect_null(ids[0]);
    bay__strv_free(ids);
}

Test(manifest_scan, a_missing_plugins_folder_is_an_io_error)
{
    char **ids = NULL;
    bay_error err = {0};
    cr_expect_eq(bay__manifest_scan("/nonexistent/plugbay-plugins", &ids, NULL, &err), BAY_EIO);
    cr_expect_null(ids);
    cr_expect_str_eq(err.message,
                     "/nonexistent/plugbay-plugins: cannot read the plugins folder: No such file or directory");
}

Test(manifest, a_python_entry_is_a_py_file)
{
    static const struct {
        const char *entry, *error; /* error NULL: accepted */
    } cases[] = {
        {"main.py", NULL},
        {"pkg/plugin.py", NULL},
        {"main.txt", "field \"entry\": \"main.txt\" is not a .py file; a python plugin's entry is its main module, "
                     "like \"main.py\""},
        {".py", "field \"entry\": \".py\" is not a .py file; a python plugin's entry is its main module, like "
                "\"main.py\""},
        {"main.pyc", "field \"entry\": \"main.pyc\" is not a .py file; a python plugin's entry is its main module, "
                     "like \"main.py\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[300], want[600];
        snprintf(text, sizeof text,
                 "{\"name\": \"p\", \"version\": \"1.0.0\", \"language\": \"python\", \"entry\": \"%s\", "
                 "\"provides\": []}",
                 cases[i].entry);
        bay_error err = {0};
        int rc = parse_text(text, &err);
        if (cases[i].error == NULL) {
            cr_expect_eq(rc, 0, "%s refused: %s", cases[i].entry, err.message);
        } else {
            snprintf(want, sizeof want, PATH ": %s", cases[i].error);
            cr_expect_eq(rc, BAY_EMANIFEST, "%s accepted", cases[i].entry);
            cr_expect_str_eq(err.message, want);
        }
    }
    expect_accepted(NULL, "entry", "\"main.txt\""); /* a lua plugin's entry is its own business */
}

Test(manifest, checks_limits)
{
    expect_accepted(NULL, "limits", "{\"memory_mb\": 64, \"open_files\": 32, \"cpu_seconds\": 60}");
    expect_accepted(NULL, "limits", "{}");
    expect_message(NULL, "limits", "{\"memory_mb\": 8}",
                   PATH ": field \"limits.memory_mb\": expected a whole number of MiB from 16 to 1048576, got 8");
    expect_refused(NULL, "limits", "{\"open_files\": \"many\"}", "field \"limits.open_files\"");
    expect_refused(NULL, "limits", "{\"cpu_seconds\": 0}", "field \"limits.cpu_seconds\"");
    expect_refused(NULL, "limits", "{\"memory\": 64}", "(did you mean \"memory_mb\"?)");
    expect_refused(NULL, "limits", "64", "field \"limits\"");
}

/* parse_language parses a manifest in language with limits (a JSON object) and config, giving err. */
static int parse_language(const char *language, const char *limits, const char *config, bay__manifest **m,
                          bay_error *err)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"x\", \"version\": \"1.0.0\", \"language\": \"%s\", \"entry\": \"%s\", "
             "\"provides\": [{\"name\": \"x.y\", \"kind\": \"handle\"}], \"limits\": %s, \"config\": %s}",
             language, strcmp(language, "python") == 0 ? "main.py" : "main", limits, config);
    return bay__manifest_parse(text, PATH, "/plugins/x", "x", m, err);
}

Test(manifest, storage_mb_is_a_whole_number_of_mib_from_1_to_65536_for_every_language)
{
    static const char *const languages[] = {"c", "lua", "python", "wasm"};
    for (size_t i = 0; i < sizeof languages / sizeof *languages; i++) {
        bay__manifest *m = NULL;
        bay_error err = {0};
        cr_expect_eq(parse_language(languages[i], "{\"storage_mb\": 1}", "{}", &m, &err), 0, "%s: %s", languages[i],
                     err.message);
        cr_expect_eq(m ? m->limits.storage_mb : -1, 1, "%s", languages[i]);
        bay__manifest_free(m);
    }
    expect_accepted(NULL, "limits", "{\"storage_mb\": 65536}");
    expect_message(NULL, "limits", "{\"storage_mb\": 0}",
                   PATH ": field \"limits.storage_mb\": expected a whole number of MiB from 1 to 65536, got 0");
    expect_message(NULL, "limits", "{\"storage_mb\": 65537}",
                   PATH ": field \"limits.storage_mb\": expected a whole number of MiB from 1 to 65536, got 65537");
    expect_refused(NULL, "limits", "{\"storage_mb\": 1.5}", "field \"limits.storage_mb\"");
    expect_refused(NULL, "limits", "{\"storage\": 64}", "(did you mean \"storage_mb\"?)");
}

Test(manifest, each_language_has_its_own_limits_checked_like_the_others)
{
    static const struct {
        const char *language, *limits, *config, *error; /* error NULL: accepted */
    } cases[] = {
        {"lua", "{\"lua_memory_mb\": 16, \"lua_instructions\": 2000000}", "{}", NULL},
        {"lua", "{\"lua_memory_mb\": 4096, \"lua_instructions\": 1000}", "{}", NULL},
        {"lua", "{\"lua_memory_mb\": 0}", "{}",
         "field \"limits.lua_memory_mb\": expected a whole number of MiB from 1 to 4096, got 0"},
        {"lua", "{\"lua_memory_mb\": \"lots\"}", "{}",
         "field \"limits.lua_memory_mb\": expected a whole number of MiB from 1 to 4096, got \"lots\""},
        {"lua", "{\"lua_instructions\": 999}", "{}",
         "field \"limits.lua_instructions\": expected a whole number of instructions from 1000 up, got 999"},
        {"python", "{\"python_memory_mb\": 64}", "{}", NULL},
        {"python", "{\"python_memory_mb\": 16}", "{}",
         "field \"limits.python_memory_mb\": expected a whole number of MiB from 32 to 65536, got 16"},
        {"wasm", "{\"wasm_memory_pages\": 32768}", "{}", NULL},
        {"wasm", "{\"wasm_memory_pages\": 32769}", "{}",
         "field \"limits.wasm_memory_pages\": expected a whole number of 64 KiB pages from 1 to 32768, got 32769"},
        {"c", "{\"lua_memory_mb\": 16}", "{}",
         "field \"limits.lua_memory_mb\": only a plugin with \"language\": \"lua\" has it"},
        {"lua", "{\"wasm_memory_pages\": 16}", "{}",
         "field \"limits.wasm_memory_pages\": only a plugin with \"language\": \"wasm\" has it"},
        {"lua", "{}", "{\"lua.memory_mb\": 16}",
         "field \"config.lua.memory_mb\" is now \"limits.lua_memory_mb\" (see docs/manifest.md#limits)"},
        {"python", "{}", "{\"python.memory_mb\": 64}",
         "field \"config.python.memory_mb\" is now \"limits.python_memory_mb\" (see docs/manifest.md#limits)"},
        {"lua", "{}", "{\"lua.instructions\": 5000}",
         "field \"config.lua.instructions\" is now \"limits.lua_instructions\" (see docs/manifest.md#limits)"},
        {"wasm", "{}", "{\"wasm.memory_pages\": 16}",
         "field \"config.wasm.memory_pages\" is now \"limits.wasm_memory_pages\" (see docs/manifest.md#limits)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bay__manifest *m = NULL;
        char want[600];
        bay_error err = {0};
        int rc = parse_language(cases[i].language, cases[i].limits, cases[i].config, &m, &err);
        if (cases[i].error == NULL) {
            cr_expect_eq(rc, 0, "%s %s refused: %s", cases[i].language, cases[i].limits, err.message);
        } else {
            snprintf(want, sizeof want, PATH ": %s", cases[i].error);
            cr_expect_eq(rc, BAY_EMANIFEST, "%s %s accepted", cases[i].language, cases[i].limits);
            cr_expect_str_eq(err.message, want);
        }
        bay__manifest_free(m);
    }
    bay__manifest *m = NULL;
    bay_error err = {0};
    cr_assert_eq(parse_language("lua", "{\"lua_memory_mb\": 16, \"lua_instructions\": 2000000}", "{}", &m, &err),
                 0, "%s", err.message);
    cr_expect_eq(m->limits.lua_memory_mb, 16);
    cr_expect_eq(m->limits.lua_instructions, 2000000);
    cr_expect_eq(m->limits.python_memory_mb, 0, "0 leaves the bridge's default");
    cr_expect(json_is_object(m->doc) && json_object_get(json_object_get(m->doc, "limits"), "lua_memory_mb"),
              "the document the worker gets holds the limits");
    bay__manifest_free(m);
}

Test(manifest, a_library_binding_has_signatures_instead_of_an_entry)
{
    bay_error err = {0};
    const char *binding = "{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libz.so.1\","
                          " \"provides\": [{\"name\": \"zlib.crc32\", \"kind\": \"handle\","
                          " \"signature\": \"ulong crc32(ulong, bytes b, uint len(b))\"}]}";
    bay__manifest *m = NULL;
    cr_assert_eq(bay__manifest_parse(binding, PATH, "/plugins/x", "x", &m, &err), 0, "%s", err.message);
    cr_assert_str_eq(m->library, "libz.so.1");
    cr_assert_null(m->entry);
    cr_assert_str_eq(m->provides[0].signature, "ulong crc32(ulong, bytes b, uint len(b))");
    bay__manifest_free(m);
    const char *observer = "{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libc.so.6\","
                           " \"provides\": [{\"name\": \"seen\", \"kind\": \"filter\", \"signature\": \"void srand(uint)\"}]}";
    cr_assert_eq(bay__manifest_parse(observer, PATH, "/plugins/x", "x", &m, &err), 0, "a void function observes: %s",
                 err.message);
    cr_assert_eq(m->provides[0].kind, BAY_FILTER);
    bay__manifest_free(m);

    const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libz.so.1\", \"entry\": \"p.so\","
         " \"provides\": []}",
         "give one, not both"},
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"lua\", \"library\": \"libz.so.1\", \"provides\": []}",
         "only a plugin with \"language\": \"c\" binds a library"},
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libz.so.1\","
         " \"provides\": [{\"name\": \"a\", \"kind\": \"handle\"}]}",
         "provides[0].signature\": every provide of a plugin with a \"library\" needs one"},
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"p.so\","
         " \"provides\": [{\"name\": \"a\", \"kind\": \"handle\", \"signature\": \"int f()\"}]}",
         "only a plugin with a \"library\" has signatures"},
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"../libz.so\", \"provides\": []}",
         "field \"library\""},
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"provides\": []}", "field \"entry\""},
        /* plugbayd parses each signature with the rest of the manifest, in the bridge's words */
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libm.so.6\","
         " \"provides\": [{\"name\": \"a\", \"kind\": \"handle\", \"signature\": \"uint33 f(int x)\"}]}",
         "field \"provides[0].signature\": \"uint33 f(int x)\" at character 1: unknown type \"uint33\""},
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libz.so.1\","
         " \"provides\": [{\"name\": \"a\", \"kind\": \"handle\", \"signature\": \"ulong crc32(bytes buf)\"}]}",
         "bytes parameter \"buf\" has no length parameter"},
        /* a filter's provider must be able to answer the arguments (out parameters) or nothing (void) */
        {"{\"name\": \"z\", \"version\": \"1.0.0\", \"language\": \"c\", \"library\": \"libz.so.1\","
         " \"provides\": [{\"name\": \"zlib.check\", \"kind\": \"filter\","
         " \"signature\": \"ulong crc32(ulong, bytes b, uint len(b))\"}]}",
         "field \"provides[0]\": crc32 would answer every call of the filter \"zlib.check\" with its one return value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(parse_text(bad[i].text, &err), BAY_EMANIFEST, "case %zu accepted", i);
        cr_expect(strstr(err.message, bad[i].needle), "case %zu: %s", i, err.message);
    }
}

Test(manifest, an_id_field_must_be_the_folders_id)
{
    expect_accepted(NULL, "id", "\"x\"");
    expect_message(NULL, "id", "\"vendor/other\"",
                   PATH ": field \"id\": \"vendor/other\", but its folder makes it \"x\": move the folder to "
                        "vendor/other in the plugins folder, or change the field");
    expect_refused(NULL, "id", "\"../x\"", "field \"id\": expected a plugin id like \"example/hello\"");
    expect_refused(NULL, "id", "7", "field \"id\"");
}

Test(manifest, a_manifest_read_without_a_folder_takes_its_id_from_the_field)
{
    bay__manifest *m = NULL;
    bay_error err;
    const char *text = "{\"id\": \"vendor/tool\", \"name\": \"t\", \"version\": \"1.0.0\", \"language\": \"c\", "
                       "\"entry\": \"plugin.so\", \"provides\": []}";
    cr_assert_eq(bay__manifest_parse(text, PATH, NULL, NULL, &m, &err), 0, "%s", err.message);
    cr_assert_str_eq(m->id, "vendor/tool");
    bay__manifest_free(m);
}

/* ---- ui panels, translations, message catalogues ------------------------ */

static const char *ui_manifest =
    "{\"name\": \"Greeter\", \"version\": \"1.0.0\", \"language\": \"lua\", \"entry\": \"main.lua\",\n"
    " \"brief\": \"Greets\", \"provides\": [{\"name\": \"greeter.greet\", \"kind\": \"handle\"}],\n"
    " \"settings\": {\"greeting\": {\"type\": \"string\", \"default\": \"Hello\", \"description\": \"the word\",\n"
    "                               \"label\": \"Greeting\"}},\n"
    " \"ui\": [{\"panel\": \"main\", \"title\": \"Greeter\", \"entry\": \"ui/index.html\"},\n"
    "        {\"panel\": \"more-2\", \"title\": \"More\", \"entry\": \"ui/more.html\"}],\n"
    " \"translations\": {\"fr\": {\"name\": \"Salueur\", \"brief\": \"Salue\",\n"
    "                            \"settings\": {\"greeting\": {\"label\": \"Salutation\"}},\n"
    "                            \"ui\": {\"main\": {\"title\": \"Salueur\"}}},\n"
    "                    \"pt_BR\": {\"name\": \"Saudador\"}},\n"
    " \"messages\": \"locales\", \"locale\": \"de\"}";

/* load_ui writes the files of ui_manifest's plugin x (but those skip names) and loads it. */
static int load_ui(const char *skip, bay__manifest **m, bay_error *err)
{
    const char *files[] = {"x/main.lua", "x/ui/index.html", "x/ui/more.html", "x/locales/en.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!skip || strcmp(skip, files[i]) != 0)
            put(files[i], "{}");
    put("x/plugin.json", ui_manifest);
    int rc = bay__manifest_load(root, "x", m, err);
    cr_assert_eq(rc == 0, *m != NULL, "a manifest comes back exactly on success");
    return rc;
}

Test(manifest_ui, panels_translations_and_messages_are_read, .init = make_root, .fini = remove_root)
{
    bay__manifest *m = NULL;
    bay_error err = {0};
    cr_assert_eq(load_ui(NULL, &m, &err), 0, "%s", err.message);
    cr_assert_eq(m->npanels, 2);
    cr_expect_str_eq(m->panels[0].panel, "main");
    cr_expect_str_eq(m->panels[0].title, "Greeter");
    cr_expect_str_eq(m->panels[1].entry, "ui/more.html");
    cr_expect_str_eq(m->messages, "locales");
    cr_expect_str_eq(m->locale, "de");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(m->translations, "fr"), "name")), "Salueur");
    bay__manifest_free(m);
}

Test(manifest_ui, a_manifest_without_them_has_none_and_locale_en)
{
    bay__manifest *m = NULL;
    bay_error err = {0};
    cr_assert_eq(bay__manifest_parse(base_manifest, PATH, "/p/x", "x", &m, &err), 0, "%s", err.message);
    cr_expect_eq(m->npanels, 0);
    cr_expect_null(m->messages);
    cr_expect_str_eq(m->locale, "en");
    cr_expect_eq(json_object_size(m->translations), 0);
    bay__manifest_free(m);
}

Test(manifest_ui, refuses_bad_panels)
{
    expect_message(NULL, "ui", "[{\"panel\": \"Main\", \"title\": \"T\", \"entry\": \"ui/i.html\"}]",
                   PATH ": field \"ui[0].panel\": expected a name of 1 to 64 of a-z, 0-9, \"_\" and \"-\", got \"Main\"");
    expect_refused(NULL, "ui", "[{\"panel\": \"a/b\", \"title\": \"T\", \"entry\": \"i.html\"}]", "ui[0].panel");
    expect_refused(NULL, "ui", "[{\"panel\": \"\", \"title\": \"T\", \"entry\": \"i.html\"}]", "ui[0].panel");
    expect_refused(NULL, "ui",
                   "[{\"panel\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"title\": \"T\", "
                   "\"entry\": \"i.html\"}]",
                   "ui[0].panel");
    expect_refused(NULL, "ui", "[{\"panel\": \"m\", \"entry\": \"i.html\"}]", "field \"ui[0].title\"");
    expect_refused(NULL, "ui", "[{\"panel\": \"m\", \"title\": \"T\"}]", "field \"ui[0].entry\"");
    expect_message(NULL, "ui", "[{\"panel\": \"m\", \"title\": \"T\", \"entry\": \"../x.html\"}]",
                   PATH ": field \"ui[0].entry\": expected a file inside the plugin folder like \"ui/index.html\", got "
                        "\"../x.html\"");
    expect_refused(NULL, "ui", "[{\"panel\": \"m\", \"title\": \"T\", \"entry\": \"/etc/passwd\"}]", "ui[0].entry");
    expect_refused(NULL, "ui", "[{\"panel\": \"m\", \"title\": \"T\", \"entry\": \"ui/../../x\"}]", "ui[0].entry");
    expect_refused(NULL, "ui", "[{\"panel\": \"m\", \"title\": \"T\", \"entry\": \"i.html\", \"src\": 1}]",
                   "field \"ui[0].src\" is not a panel field");
    expect_message(NULL, "ui",
                   "[{\"panel\": \"m\", \"title\": \"T\", \"entry\": \"a.html\"}, {\"panel\": \"m\", \"title\": \"U\", "
                   "\"entry\": \"b.html\"}]",
                   PATH ": field \"ui[1].panel\": expected a name no other item of the list has, got \"m\" (ui[0] "
                        "already has it)");
    expect_refused(NULL, "ui", "{\"panel\": \"m\"}", "field \"ui\"");
    expect_accepted(NULL, "ui", "[{\"panel\": \"main_2-x\", \"title\": \"T\", \"entry\": \"ui/index.html\"}]");
}

Test(manifest_ui, refuses_more_than_16_panels)
{
    char list[4096] = "[";
    for (int i = 0; i < 17; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s{\"panel\": \"p%d\", \"title\": \"T\", "
                 "\"entry\": \"p%d.html\"}", i ? ", " : "", i, i);
    strcat(list, "]");
    expect_refused(NULL, "ui", list, "expected an array of at most 16 panels");
}

Test(manifest_ui, refuses_a_bad_locale_or_messages_folder)
{
    expect_message(NULL, "locale", "\"french\"",
                   PATH ": field \"locale\": expected a locale like \"en\" or \"pt_BR\", got \"french\"");
    expect_refused(NULL, "locale", "\"fr-FR\"", "field \"locale\"");
    expect_refused(NULL, "messages", "\"../locales\"", "field \"messages\"");
    expect_refused(NULL, "messages", "\"/usr/share/locale\"", "field \"messages\"");
    expect_refused(NULL, "messages", "[]", "field \"messages\"");
}

/* parse_ui_edit parses ui_manifest with translations.fr set to value. */
static int parse_ui_edit(const char *value, bay_error *err)
{
    json_t *doc = json_loads(ui_manifest, 0, NULL);
    cr_assert_not_null(doc);
    json_object_set_new(json_object_get(doc, "translations"), "fr", json_loads(value, JSON_DECODE_ANY, NULL));
    char *text = json_dumps(doc, 0);
    int rc = parse_text(text, err);
    free(text);
    json_decref(doc);
    return rc;
}

Test(manifest_ui, refuses_translations_of_what_is_not_declared)
{
    struct { const char *fr, *want; } cases[] = {
        {"{\"settings\": {\"colour\": {\"label\": \"Couleur\"}}}",
         "field \"translations.fr.settings.colour\": the manifest declares no setting \"colour\" to translate"},
        {"{\"ui\": {\"side\": {\"title\": \"Côté\"}}}",
         "field \"translations.fr.ui.side\": the manifest declares no panel \"side\" to translate"},
        {"{\"settings\": {\"greeting\": {\"lable\": \"x\"}}}",
         "field \"translations.fr.settings.greeting.lable\" is not a setting field (did you mean \"label\"?)"},
        {"{\"ui\": {\"main\": {\"title\": \"\"}}}", "field \"translations.fr.ui.main.title\": expected a non-empty"},
        {"{\"ui\": {\"main\": \"Salueur\"}}", "field \"translations.fr.ui.main\": expected an object"},
        {"{\"name\": \"\"}", "field \"translations.fr.name\": expected a non-empty string"},
        {"{\"brief\": 3}", "field \"translations.fr.brief\": expected a string"},
        {"{\"nom\": \"Salueur\"}", "field \"translations.fr.nom\" is not a translation field"},
        {"\"Salueur\"", "field \"translations.fr\": expected an object like"},
        {"{\"settings\": []}", "field \"translations.fr.settings\": expected an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bay_error err = {0};
        cr_expect_eq(parse_ui_edit(cases[i].fr, &err), BAY_EMANIFEST, "%s accepted", cases[i].fr);
        cr_expect(strstr(err.message, cases[i].want) != NULL, "%s: %s", cases[i].fr, err.message);
    }
}

Test(manifest_ui, refuses_translations_under_a_key_that_is_no_locale)
{
    const char *keys[] = {"french", "fr-FR", "FR", "fr_fr", "../fr", ""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char value[128];
        snprintf(value, sizeof value, "{\"%s\": {\"name\": \"x\"}}", keys[i]);
        expect_refused(NULL, "translations", value, "field \"translations\": expected locales like \"fr\"");
    }
    expect_refused(NULL, "translations", "[]", "field \"translations\"");
}

Test(manifest_ui, load_refuses_a_missing_entry_or_messages_folder, .init = make_root, .fini = remove_root)
{
    bay__manifest *m = NULL;
    bay_error err = {0};
    char want[PATH_MAX + 256];
    cr_expect_eq(load_ui("x/ui/more.html", &m, &err), BAY_EMANIFEST);
    snprintf(want, sizeof want, "%s/x/plugin.json: field \"ui[1].entry\": ui/more.html: no such file in the plugin folder",
             root);
    cr_expect_str_eq(err.message, want);
    cr_expect_str_eq(err.plugin, "x");
    remove_root();
    make_root();
    cr_expect_eq(load_ui("x/locales/en.json", &m, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "field \"messages\": locales: no such file") != NULL, "%s", err.message);
}

Test(manifest_ui, load_refuses_an_entry_that_is_a_folder_or_messages_that_is_a_file, .init = make_root,
     .fini = remove_root)
{
    bay__manifest *m = NULL;
    bay_error err = {0};
    put("x/ui/more.html/index.html", "");
    cr_expect_eq(load_ui("x/ui/more.html", &m, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "field \"ui[1].entry\": ui/more.html is not a regular file") != NULL, "%s",
              err.message);
    remove_root();
    make_root();
    put("x/locales", "");
    cr_expect_eq(load_ui("x/locales/en.json", &m, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "field \"messages\": locales is not a folder") != NULL, "%s", err.message);
}

Test(manifest_ui, load_refuses_panel_files_or_messages_a_link_leads_outside, .init = make_root, .fini = remove_root)
{
    bay__manifest *m = NULL;
    bay_error err = {0};
    put("outside/more.html", "");
    put("x/ui/index.html", "");
    link_at("../../outside/more.html", "x/ui/more.html");
    cr_expect_eq(load_ui("x/ui/more.html", &m, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "field \"ui[1].entry\": ui/more.html leads through a symbolic link to") != NULL, "%s",
              err.message);
    cr_expect(strstr(err.message, "outside the plugin folder") != NULL, "%s", err.message);
    remove_root();
    make_root();
    put("outside/locales/en.json", "{}");
    put("x/main.lua", "");
    link_at("../outside/locales", "x/locales");
    cr_expect_eq(load_ui("x/locales/en.json", &m, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "field \"messages\": locales leads through a symbolic link") != NULL, "%s",
              err.message);
}

Test(manifest_ui, read_checks_panel_files_too, .init = make_root, .fini = remove_root)
{
    bay__manifest *m = NULL;
    bay_error err = {0};
    char dir[PATH_MAX];
    put("x/main.lua", "");
    put("x/plugin.json", ui_manifest);
    snprintf(dir, sizeof dir, "%s/x", root);
    cr_expect_eq(bay__manifest_read(dir, "package p.tar.gz", &m, &err), BAY_EMANIFEST);
    cr_expect_null(m);
    cr_expect(strstr(err.message, "package p.tar.gz: plugin.json: field \"ui[0].entry\": ui/index.html: no such file")
                  != NULL, "%s", err.message);
}
