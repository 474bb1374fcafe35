/* broker/setting.c — a plugin's settings: declarations checked, values checked against them, text read as values. */
#include "setting.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const types[] = {"string", "integer", "number", "boolean", NULL};
static const char *const fields[] = {"type", "default", "description", "enum", "minimum", "maximum", "pattern", "secret",
                                     "label", NULL};

bool bay__setting_key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 64 || key[0] < 'a' || key[0] > 'z')
        return false;
    return strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* type_of returns decl's "type" (one of types; the declaration was checked). */
static const char *type_of(const json_t *decl)
{
    return json_string_value(json_object_get(decl, "type"));
}

/* matches tells whether all of text matches the extended regular expression pattern; false also when it does
 * not compile (*bad then true). */
static bool matches(const char *pattern, const char *text, bool *bad)
{
    size_t n = strlen(pattern) + 5;
    char *whole = malloc(n);
    regex_t re;
    *bad = true;
    if (whole == NULL)
        return false;
    snprintf(whole, n, "^(%s)$", pattern);
    int rc = regcomp(&re, whole, REG_EXTENDED | REG_NOSUB);
    free(whole);
    if (rc != 0)
        return false;
    *bad = false;
    bool ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* of_type tells whether v has the JSON type a setting of type holds. */
static bool of_type(const char *type, const json_t *v)
{
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    return json_is_boolean(v);
}

/* takes writes to why what a setting of decl takes, in words ("an integer from 1 to 10"). */
static void takes(const json_t *decl, char *why, size_t len)
{
    const char *type = type_of(decl);
    const json_t *choices = json_object_get(decl, "enum"), *lo = json_object_get(decl, "minimum"),
                 *hi = json_object_get(decl, "maximum"), *pattern = json_object_get(decl, "pattern");
    size_t used = 0;
#define PUT(...) used += (size_t)snprintf(why + used, used < len ? len - used : 0, __VA_ARGS__)
    if (choices) {
        PUT("one of ");
        for (size_t i = 0; i < json_array_size(choices); i++) {
            char *text = json_dumps(json_array_get(choices, i), JSON_ENCODE_ANY);
            PUT("%s%s", i ? ", " : "", text ? text : "?");
            free(text);
        }
        return;
    }
    PUT("%s", strcmp(type, "string") == 0    ? "a string"
              : strcmp(type, "integer") == 0 ? "an integer"
              : strcmp(type, "number") == 0  ? "a number"
                                             : "true or false");
    if (lo && hi)
        PUT(" from %g to %g", json_number_value(lo), json_number_value(hi));
    else if (lo)
        PUT(" of at least %g", json_number_value(lo));
    else if (hi)
        PUT(" of at most %g", json_number_value(hi));
    if (pattern)
        PUT(" matching %s", json_string_value(pattern));
    if (strcmp(type, "string") == 0 && !pattern)
        PUT(" of at most %d bytes", BAY_SETTING_TEXT_MAX);
#undef PUT
}

bool bay__setting_fits(const json_t *decl, const json_t *v, char *why, size_t len)
{
    const char *type = type_of(decl);
    const json_t *choices = json_object_get(decl, "enum"), *lo = json_object_get(decl, "minimum"),
                 *hi = json_object_get(decl, "maximum"), *pattern = json_object_get(decl, "pattern");
    bool ok = v && of_type(type, v);
    if (ok && json_is_string(v))
        ok = json_string_length(v) <= BAY_SETTING_TEXT_MAX && strlen(json_string_value(v)) == json_string_length(v);
    if (ok && json_is_number(v))
        ok = (!lo || json_number_value(v) >= json_number_value(lo)) && (!hi || json_number_value(v) <= json_number_value(hi)) &&
             isfinite(json_number_value(v));
    bool bad = false;
    if (ok && pattern)
        ok = matches(json_string_value(pattern), json_string_value(v), &bad);
    for (size_t i = 0; ok && choices && i < json_array_size(choices); i++)
        if (json_equal(json_array_get(choices, i), (json_t *)v))
            return true;
    if (ok && !choices)
        return true;
    takes(decl, why, len);
    return false;
}

bool bay__setting_secret(const json_t *decl)
{
    return json_is_true(json_object_get(decl, "secret"));
}

/* refuse writes the printf-style message to why and returns false. */
static bool refuse(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool refuse(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return false;
}

/* expected writes to why `field "FIELD": expected WHAT` and returns false. */
static bool expected(char *why, size_t len, const char *field, const char *what)
{
    return refuse(why, len, "field \"%s\": expected %s", field, what);
}

bool bay__setting_declared(const char *key, const json_t *decl, char *why, size_t len)
{
    if (!bay__setting_key_valid(key))
        return refuse(why, len, "expected a name of 1 to 64 of a-z, 0-9, \"_\", \".\" and \"-\" starting with a "
                                "letter, like \"greeting\"");
    if (!json_is_object(decl))
        return refuse(why, len, "expected an object like {\"type\": \"string\", \"default\": \"Hello\", "
                                "\"description\": \"...\"}");
    for (void *it = json_object_iter((json_t *)decl); it; it = json_object_iter_next((json_t *)decl, it)) {
        size_t i = 0;
        while (fields[i] && strcmp(fields[i], json_object_iter_key(it)) != 0)
            i++;
        if (fields[i] == NULL)
            return refuse(why, len, "unknown field \"%s\" (a setting has type, default, description, label, "
                                    "enum, minimum, maximum, pattern and secret)", json_object_iter_key(it));
    }
    const char *type = json_string_value(json_object_get(decl, "type"));
    size_t t = 0;
    while (type && types[t] && strcmp(types[t], type) != 0)
        t++;
    if (type == NULL || types[t] == NULL)
        return expected(why, len, "type", "\"string\", \"integer\", \"number\" or \"boolean\"");
    const json_t *description = json_object_get(decl, "description"), *secret = json_object_get(decl, "secret"),
                 *choices = json_object_get(decl, "enum"), *lo = json_object_get(decl, "minimum"),
                 *hi = json_object_get(decl, "maximum"), *pattern = json_object_get(decl, "pattern");
    if (!json_is_string(description) || json_string_length(description) == 0)
        return expected(why, len, "description", "a non-empty string saying what the setting does");
    const json_t *label = json_object_get(decl, "label");
    if (label && (!json_is_string(label) || json_string_length(label) == 0))
        return expected(why, len, "label", "a non-empty string naming the setting in a form");
    if (secret && !json_is_boolean(secret))
        return expected(why, len, "secret", "true or false");
    bool numeric = strcmp(type, "integer") == 0 || strcmp(type, "number") == 0;
    if ((lo || hi) && !numeric)
        return expected(why, len, lo ? "minimum" : "maximum", "no bound: only integer and number settings have one");
    if ((lo && !json_is_number(lo)) || (hi && !json_is_number(hi)))
        return expected(why, len, lo && !json_is_number(lo) ? "minimum" : "maximum", "a number");
    if (lo && hi && json_number_value(lo) > json_number_value(hi))
        return expected(why, len, "maximum", "a number no less than minimum");
    if (pattern && (strcmp(type, "string") != 0 || !json_is_string(pattern)))
        return expected(why, len, "pattern", "a regular expression, on a string setting");
    bool bad = false;
    if (pattern)
        matches(json_string_value(pattern), "", &bad);
    if (bad)
        return expected(why, len, "pattern", "a POSIX extended regular expression that compiles");
    if (choices && (!json_is_array(choices) || json_array_size(choices) == 0))
        return expected(why, len, "enum", "a non-empty array of the values allowed");
    for (size_t i = 0; choices && i < json_array_size(choices); i++)
        if (!of_type(type, json_array_get(choices, i)))
            return expected(why, len, "enum", "values of the setting's type");
    char takes_what[300];
    if (!bay__setting_fits(decl, json_object_get(decl, "default"), takes_what, sizeof takes_what))
        return expected(why, len, "default", takes_what);
    return true;
}

json_t *bay__setting_parse(const json_t *decl, const char *text, char *why, size_t len)
{
    const char *type = type_of(decl);
    json_t *v = NULL;
    char *end;
    errno = 0;
    if (strcmp(type, "string") == 0) {
        v = json_string(text);
    } else if (strcmp(type, "integer") == 0) {
        long long n = strtoll(text, &end, 10);
        if (*text && *end == '\0' && errno == 0)
            v = json_integer(n);
    } else if (strcmp(type, "number") == 0) {
        double d = strtod(text, &end);
        if (*text && *end == '\0' && errno == 0)
            v = json_real(d);
    } else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        v = json_boolean(strcmp(text, "true") == 0);
    }
    if (v && bay__setting_fits(decl, v, why, len))
        return v;
    json_decref(v);
    if (v == NULL)
        takes(decl, why, len);
    return NULL;
}

json_t *bay__settings_values(const json_t *decls, const json_t *set)
{
    json_t *all = json_object();
    char why[300];
    for (void *it = json_object_iter((json_t *)decls); all && it; it = json_object_iter_next((json_t *)decls, it)) {
        const char *key = json_object_iter_key(it);
        const json_t *decl = json_object_iter_value(it), *v = json_object_get(set, key);
        if (!v || !bay__setting_fits(decl, v, why, sizeof why))
            v = json_object_get(decl, "default");
        if (json_object_set(all, key, (json_t *)v) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}
