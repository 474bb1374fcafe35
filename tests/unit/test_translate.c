/* tests/unit/test_translate.c — a plugin's texts and message catalogues by locale, with fallback (broker/translate.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <criterion/criterion.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "translate.h"

static char root[32];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/bay-translate-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    char dir[64];
    snprintf(dir, sizeof dir, "%s/locales", root);
    cr_assert_eq(mkdir(dir, 0700), 0);
}

static void remove_root(void) { nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

/* put writes text to root/locales/name. */
static void put(const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/locales/%s", root, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *text =
    "{\"name\": \"Greeter\", \"version\": \"1.0.0\", \"language\": \"lua\", \"entry\": \"main.lua\",\n"
    " \"brief\": \"Greets\", \"provides\": [],\n"
    " \"settings\": {\"greeting\": {\"type\": \"string\", \"default\": \"Hello\", \"description\": \"the word\",\n"
    "                               \"label\": \"Greeting\"}},\n"
    " \"ui\": [{\"panel\": \"main\", \"title\": \"Greeter\", \"entry\": \"ui/index.html\"}],\n"
    " \"translations\": {\"fr\": {\"name\": \"Salueur\", \"settings\": {\"greeting\": {\"label\": \"Salutation\"}},\n"
    "                            \"ui\": {\"main\": {\"title\": \"Panneau\"}}},\n"
    "                    \"fr_CA\": {\"brief\": \"Salue, au Québec\"}},\n"
    " \"messages\": \"locales\"}";

static bay__manifest *manifest(void)
{
    bay__manifest *m = NULL;
    bay_error err;
    cr_assert_eq(bay__manifest_parse(text, "plugin.json", root, "greeter", &m, &err), 0, "%s", err.message);
    return m;
}

Test(translate, texts_follow_the_chain_then_the_manifest, .init = make_root, .fini = remove_root)
{
    bay__manifest *m = manifest();
    cr_expect_str_eq(bay__translate_text(m, "fr_FR.UTF-8", "name"), "Salueur");
    cr_expect_str_eq(bay__translate_text(m, "fr", "brief"), "Greets", "no fr brief: the manifest's");
    cr_expect_str_eq(bay__translate_text(m, "fr-CA", "brief"), "Salue, au Québec");
    cr_expect_str_eq(bay__translate_text(m, "fr_CA", "name"), "Salueur", "fr_CA has no name: fr's");
    cr_expect_str_eq(bay__translate_text(m, "de", "name"), "Greeter");
    cr_expect_str_eq(bay__translate_text(m, NULL, "name"), "Greeter");
    cr_expect_null(bay__translate_text(m, "fr", "description"));
    cr_expect_str_eq(bay__translate_setting(m, "fr", "greeting", "label"), "Salutation");
    cr_expect_str_eq(bay__translate_setting(m, "fr", "greeting", "description"), "the word");
    cr_expect_str_eq(bay__translate_setting(m, "de", "greeting", "label"), "Greeting");
    cr_expect_str_eq(bay__translate_title(m, "fr_BE", &m->panels[0]), "Panneau");
    cr_expect_str_eq(bay__translate_title(m, "C", &m->panels[0]), "Greeter");
    bay__manifest_free(m);
}

/* messages reads the catalogue for locale; chosen and the value of "hello" in *hello. */
static int messages(const char *locale, char chosen[BAY_LOCALE_MAX], char *hello, size_t len, bay_error *err)
{
    bay__manifest *m = manifest();
    json_t *out = NULL;
    int rc = bay__translate_messages(m, locale, chosen, &out, err);
    cr_assert_eq(rc == 0, out != NULL);
    snprintf(hello, len, "%s", out ? (json_string_value(json_object_get(out, "hello")) ?: "(none)") : "(error)");
    json_decref(out);
    bay__manifest_free(m);
    return rc;
}

Test(translate, messages_fall_back_to_the_language_then_the_default, .init = make_root, .fini = remove_root)
{
    char chosen[BAY_LOCALE_MAX], hello[64];
    bay_error err;
    put("en.json", "{\"hello\": \"Hello\"}");
    put("fr.json", "{\"hello\": \"Bonjour\"}");
    cr_assert_eq(messages("fr_FR", chosen, hello, sizeof hello, &err), 0, "%s", err.message);
    cr_expect_str_eq(chosen, "fr");
    cr_expect_str_eq(hello, "Bonjour");
    cr_assert_eq(messages("de_DE", chosen, hello, sizeof hello, &err), 0, "%s", err.message);
    cr_expect_str_eq(chosen, "en");
    cr_expect_str_eq(hello, "Hello");
    put("fr_FR.json", "{\"hello\": \"Bonjour de France\"}");
    cr_assert_eq(messages("fr_FR.UTF-8", chosen, hello, sizeof hello, &err), 0, "%s", err.message);
    cr_expect_str_eq(chosen, "fr_FR");
    cr_expect_str_eq(hello, "Bonjour de France");
}

Test(translate, no_catalogue_answers_an_empty_one_in_the_default_locale, .init = make_root, .fini = remove_root)
{
    char chosen[BAY_LOCALE_MAX], hello[64];
    bay_error err;
    cr_assert_eq(messages("fr", chosen, hello, sizeof hello, &err), 0, "%s", err.message);
    cr_expect_str_eq(chosen, "en");
    cr_expect_str_eq(hello, "(none)");
}

Test(translate, a_bad_catalogue_is_refused_naming_the_file, .init = make_root, .fini = remove_root)
{
    static const struct { const char *text, *says; } bad[] = {
        {"{\"hello\": 3}", "fr.json: expected a JSON object of strings"},
        {"[\"hello\"]", "fr.json: expected a JSON object of strings"},
        {"{\"hello\": ", "fr.json: line 1"},
        {"{\"a\": \"x\", \"a\": \"y\"}", "fr.json: line 1"},
    };
    char chosen[BAY_LOCALE_MAX], hello[64], link[PATH_MAX];
    bay_error err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put("fr.json", bad[i].text);
        cr_expect_eq(messages("fr", chosen, hello, sizeof hello, &err), BAY_EMANIFEST, "%s", bad[i].text);
        cr_expect(strstr(err.message, bad[i].says) != NULL, "%s: %s", bad[i].text, err.message);
        cr_expect_str_eq(err.plugin, "greeter");
    }
    char *big = malloc(BAY_CATALOGUE_MAX + 64);
    memset(big, ' ', BAY_CATALOGUE_MAX + 63);
    big[BAY_CATALOGUE_MAX + 63] = '\0';
    put("fr.json", big);
    free(big);
    cr_expect_eq(messages("fr", chosen, hello, sizeof hello, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "larger than a message catalogue may be") != NULL, "%s", err.message);
    snprintf(link, sizeof link, "%s/locales/fr.json", root);
    unlink(link);
    cr_assert_eq(symlink("/etc/passwd", link), 0);
    cr_expect_eq(messages("fr", chosen, hello, sizeof hello, &err), BAY_EMANIFEST);
    cr_expect(strstr(err.message, "fr.json: not a regular file") != NULL, "%s", err.message);
}
