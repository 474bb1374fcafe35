/* tests/unit/test_locale.c — locale names normalized, read from the environment, and the fallback chain (protocol/locale_name.c). */
#include <criterion/criterion.h>

#include "locale_name.h"

static const char *norm(const char *s)
{
    static char out[BAY_LOCALE_MAX];
    return bay__locale_normalize(s, out) ? out : "(none)";
}

Test(locale, valid_is_two_or_three_lowercase_letters_and_an_optional_territory)
{
    const char *good[] = {"fr", "fil", "fr_FR", "pt_BR"};
    const char *bad[] = {"", "f", "fren", "FR", "fr_fr", "fr-FR", "fr_FRA", "fr_", "fr.UTF-8", "C", "../en"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(bay__locale_valid(good[i]), "%s refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect(!bay__locale_valid(bad[i]), "%s taken", bad[i]);
    cr_expect(!bay__locale_valid(NULL));
}

Test(locale, normalize_drops_codeset_and_modifier_and_fixes_case)
{
    cr_expect_str_eq(norm("fr_FR.UTF-8"), "fr_FR");
    cr_expect_str_eq(norm("fr-fr"), "fr_FR");
    cr_expect_str_eq(norm("de_DE@euro"), "de_DE");
    cr_expect_str_eq(norm("EN"), "en");
    cr_expect_str_eq(norm("fr"), "fr");
    cr_expect_str_eq(norm("zh_Hant"), "zh");
    cr_expect_str_eq(norm("en.UTF-8"), "en");
}

Test(locale, normalize_refuses_c_posix_and_what_names_no_language)
{
    const char *none[] = {"C", "POSIX", "C.UTF-8", "", "x", "french", "12", "fr/../x", "fr FR"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        cr_expect_str_eq(norm(none[i]), "(none)", "%s", none[i]);
    cr_expect_str_eq(norm(NULL), "(none)");
}

Test(locale, from_env_takes_language_first_then_lc_all_lc_messages_lang)
{
    char out[BAY_LOCALE_MAX];
    cr_expect(bay__locale_from_env("fr_CA:fr:en", "de_DE.UTF-8", NULL, NULL, out));
    cr_expect_str_eq(out, "fr_CA");
    cr_expect(bay__locale_from_env(NULL, "de_DE.UTF-8", "es_ES", "it_IT", out));
    cr_expect_str_eq(out, "de_DE");
    cr_expect(bay__locale_from_env("", "", "es_ES.UTF-8", "it_IT", out));
    cr_expect_str_eq(out, "es_ES");
    cr_expect(bay__locale_from_env(NULL, NULL, NULL, "it_IT.UTF-8", out));
    cr_expect_str_eq(out, "it_IT");
}

Test(locale, from_env_ignores_language_under_the_c_locale)
{
    char out[BAY_LOCALE_MAX];
    cr_expect(!bay__locale_from_env("fr", "C", NULL, NULL, out));
    cr_expect_str_eq(out, "");
    cr_expect(!bay__locale_from_env(NULL, NULL, NULL, NULL, out));
    cr_expect(!bay__locale_from_env("fr", NULL, NULL, NULL, out), "no locale set is the C locale");
    cr_expect(!bay__locale_from_env("fr", "", "", "", out));
    cr_expect(!bay__locale_from_env(NULL, NULL, NULL, "POSIX", out));
}

Test(locale, chain_goes_territory_language_default_without_repeats)
{
    char chain[3][BAY_LOCALE_MAX];
    cr_assert_eq(bay__locale_chain("fr_FR.UTF-8", "en", chain), 3);
    cr_expect_str_eq(chain[0], "fr_FR");
    cr_expect_str_eq(chain[1], "fr");
    cr_expect_str_eq(chain[2], "en");
    cr_assert_eq(bay__locale_chain("fr", "en", chain), 2);
    cr_expect_str_eq(chain[1], "en");
    cr_assert_eq(bay__locale_chain("en_GB", "en", chain), 2);
    cr_expect_str_eq(chain[0], "en_GB");
    cr_expect_str_eq(chain[1], "en");
    cr_assert_eq(bay__locale_chain(NULL, "de", chain), 1);
    cr_expect_str_eq(chain[0], "de");
    cr_assert_eq(bay__locale_chain("C", "en", chain), 1);
    cr_assert_eq(bay__locale_chain("../../etc/passwd", "en", chain), 1);
}
