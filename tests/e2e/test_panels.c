/* tests/e2e/test_panels.c — plugins' own panels and translations through a real plugbayd: panels listed (no url
 * without a console), panel.call reaching its own plugin's handle only, an observer refused, texts answered in the
 * locale asked for with fallback, message catalogues chosen by locale and a bad one refused; the CLI in the
 * user's locale. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define GREETER "example/greeter-ui"
#define OTHER_UID "65534" /* nobody */
#define SETPRIV "/usr/bin/setpriv"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {GREETER, "example/lua-hello", NULL};
    h_setup(&h, ids);
    h_listen_public(&h); /* where another local user can reach it */
    const char *extra[] = {"--listen", h.url, NULL};
    h_start(&h, extra);
    c = h_connect(&h, "test-panels");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(panels, .init = start, .fini = stop, .timeout = 120);

/* json returns v as JSON (static; "(null)" for NULL). */
static const char *json(const bay_value *v)
{
    static char out[4096];
    char *s = NULL;
    if (v && bay_value_to_json(v, &s) == 0)
        snprintf(out, sizeof out, "%s", s);
    else
        snprintf(out, sizeof out, "(null)");
    free(s);
    return out;
}

/* command runs command with args_json (a JSON object): its code, *out its answer (NULL allowed), e the error. */
static int command(const char *name, const char *args_json, bay_value **out, bay_error *e)
{
    bay_value *args = NULL, *res = NULL;
    char why[200];
    cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0, "%s: %s", args_json, why);
    int rc = bay_command(c, name, args, 15000, &res, e);
    bay_value_free(args);
    if (out)
        *out = res;
    else
        bay_value_free(res);
    return rc;
}

/* panel_call runs panel.call of plugin id's handle name with args_json; *out the result (NULL allowed). */
static int panel_call(const char *id, const char *name, const char *args_json, bay_value **out, bay_error *e)
{
    char text[512];
    snprintf(text, sizeof text, "{\"id\": \"%s\", \"name\": \"%s\", \"args\": %s}", id, name, args_json);
    return command("panel.call", text, out, e);
}

/* still_served: the plugins keep answering whatever was refused. */
static void still_served(void)
{
    char out[64];
    bay_error e;
    cr_assert_eq(h_call_str(c, "greeter.greet", "Bob", 5000, out, sizeof out, &e), 0, "%s", e.message);
    cr_assert_str_eq(out, "Hello, Bob!");
    cr_assert_eq(h_call_str(c, "lua.greet", "Bob", 5000, out, sizeof out, &e), 0, "%s", e.message);
}

Test(panels, are_listed_with_their_title_in_the_locale_and_no_url_without_a_console)
{
    bay_value *list = NULL;
    bay_error e;
    cr_assert_eq(bay_panels(c, NULL, &list, &e), 0, "%s", e.message);
    cr_expect_str_eq(json(list), "[{\"plugin\":\"" GREETER "\",\"panel\":\"main\",\"title\":\"Greeter\",\"url\":null}]");
    bay_value_free(list);
    struct { const char *locale, *title; } cases[] = {
        {"fr_FR.UTF-8", "Salueur"}, {"fr", "Salueur"}, {"fr-CA", "Salueur"}, {"de_DE", "Greeter"}, {"C", "Greeter"},
        {"../../x", "Greeter"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(bay_panels(c, cases[i].locale, &list, &e), 0, "%s", e.message);
        cr_expect_str_eq(bay_value_str(bay_map_get(bay_array_get(list, 0), "title"), NULL), cases[i].title, "%s",
                         cases[i].locale);
        bay_value_free(list);
    }
    cr_assert_eq(command("panels", "{\"id\": \"example/lua-hello\"}", &list, &e), 0, "%s", e.message);
    cr_expect_str_eq(json(list), "[]");
    bay_value_free(list);
    cr_expect_eq(command("panels", "{\"id\": \"no/such\"}", NULL, &e), BAY_ENOENT);
    cr_expect(strstr(e.message, "no plugin \"no/such\""), "%s", e.message);
    cr_expect_eq(bay_panels(c, NULL, NULL, &e), BAY_EINVAL);
}

Test(panels, a_panel_call_reaches_its_own_plugins_handle)
{
    bay_value *res = NULL;
    bay_error e;
    cr_assert_eq(panel_call(GREETER, "greeter.greet", "[\"Ada\"]", &res, &e), 0, "%s", e.message);
    cr_expect_str_eq(bay_value_str(res, NULL), "Hello, Ada!");
    bay_value_free(res);
    cr_expect_eq(h_set_setting(c, GREETER, "greeting", "\"Bonjour\"", &e), 0, "%s", e.message);
    cr_assert_eq(panel_call(GREETER, "greeter.greet", "[\"Ada\"]", &res, &e), 0, "%s", e.message);
    cr_expect_str_eq(bay_value_str(res, NULL), "Bonjour, Ada!");
    bay_value_free(res);
    cr_expect_eq(panel_call(GREETER, "greeter.greet", "[]", NULL, &e), BAY_EPLUGIN, "the plugin's own error: %s",
                 e.message);
    cr_expect(strstr(e.message, "greeter.greet: argument 1 must be a name"), "%s", e.message);
}

Test(panels, a_panel_call_to_what_its_plugin_does_not_provide_is_refused)
{
    static const struct { const char *name, *says; } refused[] = {
        {"lua.greet", GREETER " does not provide handle \"lua.greet\": a panel calls only its own plugin's handles"},
        {"greeter.seen", GREETER " does not provide handle \"greeter.seen\" (it is an event): a panel calls only"},
        {"no.such", GREETER " does not provide handle \"no.such\": a panel"},
        {"hook:settings", GREETER " does not provide handle \"hook:settings\""},
        {"timer:tick", GREETER " does not provide handle \"timer:tick\""},
    };
    bay_error e;
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        cr_expect_eq(panel_call(GREETER, refused[i].name, "[\"Ada\"]", NULL, &e), BAY_EPERM, "%s", refused[i].name);
        cr_expect(strstr(e.message, refused[i].says), "%s: %s", refused[i].name, e.message);
        cr_expect_str_eq(e.plugin, GREETER);
    }
    cr_expect_eq(panel_call("example/lua-hello", "greeter.greet", "[\"Ada\"]", NULL, &e), BAY_EPERM);
    cr_expect(strstr(e.message, "example/lua-hello does not provide handle \"greeter.greet\""), "%s", e.message);
    still_served();
}

Test(panels, a_bad_panel_call_is_refused_with_what_it_needs)
{
    bay_error e;
    const char *bad[] = {"{\"id\": \"" GREETER "\"}", "{\"id\": \"" GREETER "\", \"name\": \"greeter.greet\", \"args\": 3}",
                         "{\"id\": \"" GREETER "\", \"name\": \"greeter.greet\", \"timeout_ms\": -1}",
                         "{\"id\": \"" GREETER "\", \"name\": 5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(command("panel.call", bad[i], NULL, &e), BAY_EINVAL, "%s", bad[i]);
        cr_expect(strstr(e.message, "command \"panel.call\" needs {\"id\": PLUGIN-ID, \"name\": HANDLE"), "%s",
                  e.message);
    }
    cr_expect_eq(command("panel.call", "{\"name\": \"greeter.greet\"}", NULL, &e), BAY_EINVAL);
    cr_expect_eq(command("panel.call", "{\"id\": \"no/such\", \"name\": \"greeter.greet\"}", NULL, &e), BAY_ENOENT);
    still_served();
}

Test(panels, a_panel_call_to_a_plugin_not_loaded_is_refused)
{
    bay_error e;
    cr_assert_eq(h_command(c, "unload", GREETER, &e), 0, "%s", e.message);
    cr_expect_eq(panel_call(GREETER, "greeter.greet", "[\"Ada\"]", NULL, &e), BAY_ESTATE);
    cr_expect(strstr(e.message, GREETER " is stopped, not loaded: load it first (`plugbay load " GREETER "`)"), "%s",
              e.message);
    cr_assert_eq(h_command(c, "load", GREETER, &e), 0, "%s", e.message);
    still_served();
}

/* as_nobody lets uid OTHER_UID in as host name in role (with grant, NULL: none; name NULL: it is in already), then runs, as that user,
 * program (plugbay or panel_caller) with the words given (NULL-terminated) after it: its exit status, stdout in out. */
static int as_nobody(const char *name, const char *role, const char *grant, const char *program,
                     const char *const *words, char *out, size_t len)
{
    char err[2048];
    const char *add[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "host", "add", name, "--uid", OTHER_UID,
                         "--role", role, grant ? "--grant" : NULL, grant, NULL};
    cr_assert(name == NULL || h_run(&h, add, out, len, err, sizeof err) == 0, "%s", err);
    const char *argv[12] = {SETPRIV, "--reuid=" OTHER_UID, "--regid=" OTHER_UID, "--clear-groups", program};
    size_t n = 5;
    for (size_t i = 0; words[i] && n < 11; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    return h_run(&h, argv, out, len, err, sizeof err);
}

/* panel_call_as_nobody runs panel_caller as OTHER_UID, let in as in as_nobody: its exit status, stdout in out. */
static int panel_call_as_nobody(const char *name, const char *role, const char *grant, char *out, size_t len)
{
    return as_nobody(name, role, grant, BAY_PANEL_CALLER, (const char *[]){h.url, GREETER, "greeter.greet", NULL},
                     out, len);
}

Test(panels, an_observer_may_list_panels_but_not_call_through_one)
{
    if (geteuid() != 0 || access(SETPRIV, X_OK) != 0)
        cr_skip_test("acting as a second local user needs root and %s", SETPRIV);
    char out[4096];
    cr_expect_eq(as_nobody("watcher", "observer", NULL, BAY_BIN_DIR "/plugbay",
                           (const char *[]){"--broker", h.url, "panels", NULL}, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, GREETER "  main   Greeter  -"), "%s", out);
    cr_expect_eq(panel_call_as_nobody(NULL, "observer", NULL, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "BAY_EPERM: ") && strstr(out, "role observer) may not run panel.call: it needs role host"),
              "%s", out);
    still_served();
}

Test(panels, a_host_calls_through_a_panel_only_what_its_grants_cover)
{
    if (geteuid() != 0 || access(SETPRIV, X_OK) != 0)
        cr_skip_test("acting as a second local user needs root and %s", SETPRIV);
    char out[4096], err[2048];
    cr_expect_eq(panel_call_as_nobody("app", "host", "call:lua.*", out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "BAY_EPERM: ") && strstr(out, "may not call \"greeter.greet\": it was not granted "
                                                        "call:greeter.greet"), "%s", out);
    const char *remove[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "host", "remove", "app", NULL};
    cr_assert_eq(h_run(&h, remove, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_expect_eq(panel_call_as_nobody("app", "host", "call:greeter.*", out, sizeof out), 0, "%s", out);
    cr_expect_str_eq(out, "ok: \"Hello, Eve!\"\n");
}

/* field returns the string at key of v. */
static const char *field(const bay_value *v, const char *key) { return bay_value_str(bay_map_get(v, key), NULL); }

/* plugin_in returns the map of list (a list or status's plugins) whose id is id. */
static const bay_value *plugin_in(const bay_value *list, const char *id)
{
    for (size_t i = 0; i < bay_value_len(list); i++)
        if (strcmp(field(bay_array_get(list, i), "id"), id) == 0)
            return bay_array_get(list, i);
    cr_assert_fail("no %s in %s", id, json(list));
    return NULL;
}

Test(panels, list_info_config_and_status_answer_in_the_locale_asked_for)
{
    bay_value *v = NULL;
    bay_error e;
    cr_assert_eq(command("list", "{\"locale\": \"fr_FR.UTF-8\"}", &v, &e), 0, "%s", e.message);
    cr_expect_str_eq(field(plugin_in(v, GREETER), "name"), "Salueur");
    cr_expect_str_eq(field(plugin_in(v, GREETER), "brief"), "Salue les gens, avec un panneau à lui dans la console web");
    cr_expect_str_eq(field(plugin_in(v, "example/lua-hello"), "name"), "Lua Hello", "no translation: its own");
    bay_value_free(v);
    cr_assert_eq(command("list", "{\"locale\": \"de\"}", &v, &e), 0, "%s", e.message);
    cr_expect_str_eq(field(plugin_in(v, GREETER), "name"), "Greeter");
    bay_value_free(v);

    cr_assert_eq(command("info", "{\"id\": \"" GREETER "\", \"locale\": \"fr\"}", &v, &e), 0, "%s", e.message);
    cr_expect_str_eq(field(v, "name"), "Salueur");
    cr_expect(strncmp(field(v, "description"), "An example of a plugin's own", 28) == 0, "no fr description: %s",
              field(v, "description"));
    cr_expect_str_eq(field(v, "locale"), "en");
    cr_expect_str_eq(json(bay_map_get(v, "panels")), "[{\"panel\":\"main\",\"title\":\"Salueur\",\"entry\":\"ui/index.html\"}]");
    bay_value_free(v);

    cr_assert_eq(command("config", "{\"id\": \"" GREETER "\", \"locale\": \"fr_BE\"}", &v, &e), 0, "%s", e.message);
    const bay_value *s = bay_array_get(bay_map_get(v, "settings"), 0);
    cr_expect_str_eq(field(s, "label"), "Salutation");
    cr_expect_str_eq(field(s, "description"), "le mot avec lequel il salue");
    bay_value_free(v);
    cr_assert_eq(command("config", "{\"id\": \"" GREETER "\"}", &v, &e), 0, "%s", e.message);
    s = bay_array_get(bay_map_get(v, "settings"), 0);
    cr_expect_str_eq(field(s, "label"), "Greeting");
    cr_expect_str_eq(field(s, "description"), "the word it greets with");
    bay_value_free(v);

    cr_assert_eq(command("status", "{\"locale\": \"fr\"}", &v, &e), 0, "%s", e.message);
    cr_expect_str_eq(field(plugin_in(bay_map_get(v, "plugins"), GREETER), "name"), "Salueur");
    const bay_value *eps = bay_map_get(v, "extension_points");
    bool seen = false;
    for (size_t i = 0; i < bay_value_len(eps); i++) {
        const bay_value *ep = bay_array_get(eps, i);
        if (strcmp(field(ep, "name"), "greeter.greet") != 0)
            continue;
        seen = true;
        cr_expect_str_eq(json(bay_map_get(ep, "providers")), "[\"" GREETER "\"]");
        cr_expect_str_eq(json(bay_map_get(ep, "provider_contexts")), "[{\"plugin\":\"" GREETER "\",\"contexts\":null}]");
    }
    cr_expect(seen, "no greeter.greet in %s", json(eps));
    bay_value_free(v);
}

/* messages asks plugin id's catalogue in locale: its code, chosen locale and text of key in out. */
static int messages(const char *id, const char *locale, const char *key, char *out, size_t len, bay_error *e)
{
    char args[256];
    bay_value *v = NULL;
    snprintf(args, sizeof args, "{\"id\": \"%s\", \"locale\": \"%s\"}", id, locale);
    int rc = command("messages", args, &v, e);
    const char *text = field(bay_map_get(v, "messages"), key);
    snprintf(out, len, "%s %s", rc ? "-" : field(v, "locale"), text ? text : "(none)");
    bay_value_free(v);
    return rc;
}

Test(panels, messages_fall_back_from_the_territory_to_the_language_to_the_default)
{
    char out[256];
    bay_error e;
    cr_assert_eq(messages(GREETER, "fr_FR.UTF-8", "greet", out, sizeof out, &e), 0, "%s", e.message);
    cr_expect_str_eq(out, "fr Saluer");
    cr_assert_eq(messages(GREETER, "de_DE", "greet", out, sizeof out, &e), 0, "%s", e.message);
    cr_expect_str_eq(out, "en Greet");
    cr_assert_eq(messages(GREETER, "", "greet", out, sizeof out, &e), 0, "%s", e.message);
    cr_expect_str_eq(out, "en Greet");
    cr_assert_eq(messages("example/lua-hello", "fr", "greet", out, sizeof out, &e), 0, "%s", e.message);
    cr_expect_str_eq(out, "en (none)", "no catalogues: an empty one");
    cr_expect_eq(messages("no/such", "fr", "greet", out, sizeof out, &e), BAY_ENOENT);
}

/* put_catalogue writes text as the greeter's locales/NAME in its folder under plugbayd. */
static void put_catalogue(const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/" GREETER "/locales/%s", h.plugins, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

Test(panels, a_bad_catalogue_is_refused_naming_it_and_nothing_else_stops)
{
    char out[256];
    bay_error e;
    static const struct { const char *text, *says; } bad[] = {
        {"{\"greet\": 1}", "locales/fr.json: expected a JSON object of strings"},
        {"not json", "locales/fr.json: line 1"},
        {"[]", "locales/fr.json: expected a JSON object of strings"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put_catalogue("fr.json", bad[i].text);
        cr_expect_eq(messages(GREETER, "fr", "greet", out, sizeof out, &e), BAY_EMANIFEST, "%s", bad[i].text);
        cr_expect(strstr(e.message, bad[i].says), "%s: %s", bad[i].text, e.message);
        cr_expect_str_eq(e.plugin, GREETER);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/" GREETER "/locales/fr.json", h.plugins);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    cr_expect_eq(messages(GREETER, "fr", "greet", out, sizeof out, &e), BAY_EMANIFEST);
    cr_expect(strstr(e.message, "fr.json: not a regular file"), "%s", e.message);
    cr_assert_eq(messages(GREETER, "en", "greet", out, sizeof out, &e), 0, "%s", e.message);
    cr_expect_str_eq(out, "en Greet");
    still_served();
}

/* cli runs plugbay with words (NULL-terminated) under LANGUAGE=language (NULL: unset) and LANG=lang: its exit
 * status, stdout in out. */
static int cli(const char *language, const char *lang, const char *const *words, char *out, size_t len)
{
    const char *argv[12] = {BAY_BIN_DIR "/plugbay", "--broker", h.url};
    size_t n = 3;
    char err[2048];
    for (size_t i = 0; words[i] && n < 11; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    language ? setenv("LANGUAGE", language, 1) : unsetenv("LANGUAGE");
    setenv("LANG", lang, 1);
    int rc = h_run(&h, argv, out, len, err, sizeof err);
    unsetenv("LANGUAGE");
    unsetenv("LANG");
    cr_expect_eq(rc, 0, "%s", err);
    return rc;
}

Test(panels, the_cli_speaks_the_users_locale)
{
    char out[4096];
    cli(NULL, "fr_FR.UTF-8", (const char *[]){"panels", NULL}, out, sizeof out);
    cr_expect_str_eq(out, "PLUGIN              PANEL  TITLE    URL\n" GREETER "  main   Salueur  -\n");
    cli(NULL, "C", (const char *[]){"panels", GREETER, NULL}, out, sizeof out);
    cr_expect(strstr(out, GREETER "  main   Greeter  -"), "%s", out);
    cli("fr:en", "de_DE.UTF-8", (const char *[]){"list", NULL}, out, sizeof out);
    cr_expect(strstr(out, GREETER "  Salueur "), "LANGUAGE comes first: %s", out);
    cli(NULL, "de_DE.UTF-8", (const char *[]){"list", NULL}, out, sizeof out);
    cr_expect(strstr(out, GREETER "  Greeter "), "%s", out);
    cli(NULL, "fr_CA.UTF-8", (const char *[]){"info", GREETER, NULL}, out, sizeof out);
    cr_expect(strstr(out, "name: Salueur\n"), "%s", out);
    cr_expect(strstr(out, "panels:\n  - panel: main, title: Salueur, entry: ui/index.html\n"), "%s", out);
}
