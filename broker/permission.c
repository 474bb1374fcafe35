/* broker/permission.c — what a plugin asks for, what the user grants it, and whether a grant covers an operation. */
#include "permission.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* add appends a copy of s to the NULL-terminated *v (count *n) unless it is there already. */
static int add(char ***v, size_t *n, const char *s)
{
    if (bay__strv_has((const char *const *)*v, s))
        return 0;
    char **grown = realloc(*v, (*n + 2) * sizeof *grown);
    if (grown == NULL)
        return BAY_ENOMEM;
    *v = grown;
    if ((grown[*n] = strdup(s)) == NULL)
        return BAY_ENOMEM;
    grown[++*n] = NULL;
    return 0;
}

char **permission_requested(const bay__manifest *m)
{
    char **v = calloc(1, sizeof *v);
    size_t n = 0;
    int rc = v ? 0 : BAY_ENOMEM;
    for (size_t i = 0; rc == 0 && i < m->npermissions; i++)
        rc = add(&v, &n, m->permissions[i]);
    for (size_t i = 0; rc == 0 && i < m->nprovides; i++) {
        char p[200];
        snprintf(p, sizeof p, "provide:%s", m->provides[i].name);
        rc = add(&v, &n, p);
    }
    if (rc) {
        bay__strv_free(v);
        return NULL;
    }
    return v;
}

bool permission_match(const char *granted, const char *wanted)
{
    size_t n = strlen(granted);
    if (n > 0 && granted[n - 1] == '*')
        return strncmp(granted, wanted, n - 1) == 0;
    return strcmp(granted, wanted) == 0;
}

const char *permission_covering(char *const *granted, const char *wanted)
{
    for (char *const *g = granted; g && *g; g++)
        if (permission_match(*g, wanted))
            return *g;
    return NULL;
}

bool permission_granted(char *const *granted, const char *kind, const char *name)
{
    char wanted[300];
    snprintf(wanted, sizeof wanted, "%s:%s", kind, name);
    return permission_covering(granted, wanted) != NULL;
}

char **permission_unconsented(const bay__manifest *was, const bay__manifest *now, char *const *granted)
{
    char **asked = permission_requested(now), **before = was ? permission_requested(was) : NULL;
    char **out = calloc(1, sizeof *out);
    size_t n = 0;
    int rc = asked && out && (before || !was) ? 0 : BAY_ENOMEM;
    for (char **a = asked; rc == 0 && *a; a++)
        if (!bay__strv_has((const char *const *)before, *a) && !permission_covering(granted, *a))
            rc = add(&out, &n, *a);
    bay__strv_free(asked);
    bay__strv_free(before);
    if (rc) {
        bay__strv_free(out);
        return NULL;
    }
    return out;
}

void permission_join(char *const *v, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; v && v[i] && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", v[i]);
}

/* append formats onto out (len bytes, used of them so far), cut to fit; returns the new length. */
static size_t append(char *out, size_t len, size_t used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static size_t append(char *out, size_t len, size_t used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = used < len ? vsnprintf(out + used, len - used, fmt, ap) : 0;
    va_end(ap);
    return used + (n > 0 ? (size_t)n : 0);
}

/* shell_word appends s to out as append does, as one shell word: as it is
 * when every character is one no shell reads specially, else in single
 * quotes (a ' inside as '\''). */
static size_t shell_word(const char *s, char *out, size_t len, size_t used)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/=@%+,-";
    if (*s && strspn(s, plain) == strlen(s))
        return append(out, len, used, "%s", s);
    used = append(out, len, used, "'");
    for (; *s; s++)
        used = *s == '\'' ? append(out, len, used, "'\\''") : append(out, len, used, "%c", *s);
    return append(out, len, used, "'");
}

void permission_grant_command(const char *id, char *const *perms, char *out, size_t len)
{
    size_t used = shell_word(id, out, len, append(out, len, 0, "plugbay grant "));
    for (char *const *p = perms; p && *p; p++)
        used = shell_word(*p, out, len, append(out, len, used, " --grant "));
}

int permission_choose(const char *id, const bay__manifest *m, const bay_value *grant, bool all, char ***out,
                      bay_error *err)
{
    char **requested = permission_requested(m), list[600];
    if (requested == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if (all) {
        *out = requested;
        return 0;
    }
    permission_join(requested, list, sizeof list);
    int rc = 0;
    if (requested[0] && bay_value_len(grant) == 0)
        rc = bay_error_set(err, BAY_EPERM, NULL,
                           "%s asks for: %s; grant them with --grant PERMISSION (each) or --grant-all", id, list);
    char **chosen = calloc(1, sizeof *chosen);
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < bay_value_len(grant); i++) {
        const char *g = bay_value_str(bay_array_get(grant, i), NULL);
        bool asked = false;
        for (char **r = requested; g && *r && !asked; r++)
            asked = strcmp(*r, g) == 0;
        if (!asked)
            rc = bay_error_set(err, BAY_EINVAL, NULL, "%s does not ask for \"%s\" (it asks for: %s)", id,
                               g ? g : "(not a string)", list[0] ? list : "nothing");
        else if ((rc = chosen ? add(&chosen, &n, g) : BAY_ENOMEM) != 0)
            bay_error_set(err, rc, NULL, "out of memory");
    }
    bay__strv_free(requested);
    if (rc) {
        bay__strv_free(chosen);
        return rc;
    }
    *out = chosen;
    return 0;
}
