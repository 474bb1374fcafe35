/* protocol/locale_name.h — locale names: read from the environment, normalized, and the fallback chain texts are looked up along. */
#ifndef BAY_LOCALE_NAME_H
#define BAY_LOCALE_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* A normalized locale ("fr", "fr_FR", "fil_PH") and its NUL fit in this. */
#define BAY_LOCALE_MAX 8

/* bay__locale_valid tells whether s is a locale as a manifest writes it:
 * two or three lowercase letters, then optionally "_" and two uppercase
 * letters ("fr", "fr_FR"). */
bool bay__locale_valid(const char *s);

/* bay__locale_normalize writes the locale s names ("fr_FR.UTF-8", "fr-fr",
 * "de_DE@euro", "EN") to out as bay__locale_valid's form ("fr_FR", "de_DE",
 * "en"); a territory that is not two letters is dropped ("zh_Hant" gives
 * "zh"). Returns false, out "", for "C", "POSIX", "" and NULL, and for
 * anything whose language is not two or three letters. */
bool bay__locale_normalize(const char *s, char out[BAY_LOCALE_MAX]);

/* bay__locale_from_env writes the user's locale to out as gettext chooses
 * it for messages: the first entry of language (the value of LANGUAGE, a
 * ':'-separated list) unless the locale is "C" or "POSIX" (none set is "C"),
 * else the first of lc_all, lc_messages and lang (LC_ALL, LC_MESSAGES, LANG;
 * each NULL when unset) that is set and not empty. Returns false, out "", when that names
 * no locale (C, POSIX, nothing set). */
bool bay__locale_from_env(const char *language, const char *lc_all, const char *lc_messages, const char *lang,
                          char out[BAY_LOCALE_MAX]);

/* bay__locale_chain writes the locales to look a text up in, best first:
 * want normalized ("fr_FR"), its language alone ("fr"), then deflt (a valid
 * locale, the manifest's default), none twice. want may be NULL or name no
 * locale: then the chain is deflt alone. Returns how many (1 to 3). */
size_t bay__locale_chain(const char *want, const char *deflt, char chain[3][BAY_LOCALE_MAX]);

#endif
