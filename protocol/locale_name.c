/* protocol/locale_name.c — locale names: read from the environment, normalized, and the fallback chain texts are looked up along. */
#include "locale_name.h"

#include <string.h>

static bool lower(char c) { return c >= 'a' && c <= 'z'; }
static bool upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool letter(char c) { return lower(c) || upper(c); }

bool bay__locale_valid(const char *s)
{
    size_t n = 0;
    while (s && lower(s[n]))
        n++;
    if (!s || n < 2 || n > 3)
        return false;
    return s[n] == '\0' || (s[n] == '_' && upper(s[n + 1]) && upper(s[n + 2]) && s[n + 3] == '\0');
}

bool bay__locale_normalize(const char *s, char out[BAY_LOCALE_MAX])
{
    size_t n = 0, t = 0;
    out[0] = '\0';
    if (!s || strcmp(s, "C") == 0 || strcmp(s, "POSIX") == 0 || strncmp(s, "C.", 2) == 0)
        return false;
    while (letter(s[n]))
        n++;
    if (n < 2 || n > 3 || (s[n] && !strchr("_-.@", s[n])))
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(s[i] | 0x20);
    if (s[n] == '_' || s[n] == '-')
        while (letter(s[n + 1 + t]))
            t++;
    if (t == 2 && (!s[n + 3] || strchr(".@", s[n + 3]))) {
        out[n] = '_';
        out[n + 1] = (char)(s[n + 1] & ~0x20);
        out[n + 2] = (char)(s[n + 2] & ~0x20);
        n += 3;
    }
    out[n] = '\0';
    return true;
}

bool bay__locale_from_env(const char *language, const char *lc_all, const char *lc_messages, const char *lang,
                          char out[BAY_LOCALE_MAX])
{
    const char *set[] = {lc_all, lc_messages, lang};
    const char *locale = NULL;
    for (size_t i = 0; i < 3 && !locale; i++)
        if (set[i] && set[i][0])
            locale = set[i];
    char first[32];
    size_t n = language ? strcspn(language, ":") : 0;
    bool plain = !locale || strcmp(locale, "C") == 0 || strcmp(locale, "POSIX") == 0;
    if (n > 0 && n < sizeof first && !plain) {
        memcpy(first, language, n);
        first[n] = '\0';
        if (bay__locale_normalize(first, out))
            return true;
    }
    return bay__locale_normalize(locale, out);
}

/* add appends s to chain unless it is there already. */
static size_t add(char chain[3][BAY_LOCALE_MAX], size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(chain[i], s) == 0)
            return n;
    strcpy(chain[n], s);
    return n + 1;
}

size_t bay__locale_chain(const char *want, const char *deflt, char chain[3][BAY_LOCALE_MAX])
{
    char norm[BAY_LOCALE_MAX];
    size_t n = 0;
    if (bay__locale_normalize(want, norm)) {
        n = add(chain, n, norm);
        norm[strcspn(norm, "_")] = '\0';
        n = add(chain, n, norm);
    }
    return add(chain, n, deflt);
}
