/* broker/semver.c — semantic versions (semver.org 2.0): parsing, precedence and npm-style ranges. */
#include "semver.h"

#include <plugbay/error.h>

#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Characters of a pre-release or build identifier: [0-9A-Za-z-]. */
static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* read_num reads a numeric part at *p ("0", or digits without a leading zero,
 * fitting uint64_t) and advances *p past it. */
static bool read_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t n = 0;
    if (!is_digit(*s) || (*s == '0' && is_digit(s[1])))
        return false;
    for (; is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *p = s;
    *out = n;
    return true;
}

/* read_idents reads dot-separated, non-empty identifiers at *p and advances *p
 * past them. For a pre-release (pre), numeric identifiers must not have a
 * leading zero. */
static bool read_idents(const char **p, bool pre)
{
    const char *s = *p;
    for (;;) {
        const char *start = s;
        bool numeric = true;
        for (; is_ident_char(*s); s++)
            numeric = numeric && is_digit(*s);
        if (s == start || (pre && numeric && *start == '0' && s - start > 1))
            return false;
        if (*s != '.')
            break;
        s++;
    }
    *p = s;
    return true;
}

int bay__semver_parse(const char *s, bay__semver *out)
{
    bay__semver v = {0};
    if (!s || !out)
        return BAY_EINVAL;
    if (!read_num(&s, &v.major) || *s++ != '.' || !read_num(&s, &v.minor) || *s++ != '.' ||
        !read_num(&s, &v.patch))
        return BAY_EINVAL;
    if (*s == '-') {
        const char *pre = ++s;
        if (!read_idents(&s, true) || (size_t)(s - pre) >= sizeof v.pre)
            return BAY_EINVAL;
        memcpy(v.pre, pre, (size_t)(s - pre));
    }
    if (*s == '+') {
        s++;
        if (!read_idents(&s, false))
            return BAY_EINVAL;
    }
    if (*s)
        return BAY_EINVAL;
    *out = v;
    return 0;
}

static int sign(int c) { return (c > 0) - (c < 0); }

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* cmp_ident orders two pre-release identifiers: numeric ones numerically (they
 * have no leading zeros, so the longer is larger), numeric below alphanumeric,
 * alphanumeric ones in ASCII order. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
    bool na = all_digits(a, an), nb = all_digits(b, bn);
    if (na != nb)
        return na ? -1 : 1;
    if (na && an != bn)
        return an < bn ? -1 : 1;
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? sign(c) : cmp_u64(an, bn);
}

/* cmp_pre orders pre-release strings; "" (a release) is above every pre-release. */
static int cmp_pre(const char *a, const char *b)
{
    if (!*a || !*b)
        return (!*a) - (!*b);
    for (;;) {
        size_t an = strcspn(a, "."), bn = strcspn(b, ".");
        int c = cmp_ident(a, an, b, bn);
        if (c)
            return c;
        a += an;
        b += bn;
        if (!*a || !*b)
            return (*a != 0) - (*b != 0);
        a++;
        b++;
    }
}

int bay__semver_cmp(const bay__semver *a, const bay__semver *b)
{
    int c = cmp_u64(a->major, b->major);
    if (!c)
        c = cmp_u64(a->minor, b->minor);
    if (!c)
        c = cmp_u64(a->patch, b->patch);
    return c ? c : cmp_pre(a->pre, b->pre);
}

/* ---- ranges ------------------------------------------------------------- */

enum op { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_CARET, OP_TILDE };

/* Operators a comparator may start with; longer spellings first. */
static const struct {
    const char *text;
    enum op op;
} ops[] = {
    {">=", OP_GE}, {"<=", OP_LE}, {">", OP_GT}, {"<", OP_LT},
    {"=", OP_EQ},  {"^", OP_CARET}, {"~", OP_TILDE},
};

/* A version as written in a comparator: nparts numeric parts (0 for "*", 1 for
 * "1" or "1.x", 2 for "1.2" or "1.2.*", 3 for a full version, which alone may
 * carry a pre-release). Missing parts are 0 in v. */
typedef struct partial {
    bay__semver v;
    int nparts;
} partial;

/* One alternative (comparators joined by spaces) being matched against v;
 * v is NULL when the range is only being checked. */
typedef struct alt {
    const bay__semver *v;
    bool ok;     /* every comparator so far holds */
    bool pre_ok; /* v is a release, or a comparator names v's M.m.p with a pre-release */
} alt;

static bool parse_partial(const char *s, partial *out)
{
    uint64_t *parts[3] = {&out->v.major, &out->v.minor, &out->v.patch};
    bool wild = false;
    memset(out, 0, sizeof *out);
    if (bay__semver_parse(s, &out->v) == 0) {
        out->nparts = 3;
        return true;
    }
    for (int i = 0;; i++) {
        if (*s == 'x' || *s == 'X' || *s == '*') {
            wild = true;
            s++;
        } else if (wild || !read_num(&s, parts[i])) {
            return false;
        } else {
            out->nparts++;
        }
        if (*s != '.' || i == 2)
            break;
        s++;
    }
    return *s == '\0';
}

/* next sets *out to v with part `level` (0 major, 1 minor, 2 patch) plus one
 * and the parts below it zero. Returns false when that part cannot grow. */
static bool next(const bay__semver *v, int level, bay__semver *out)
{
    uint64_t parts[3] = {v->major, v->minor, v->patch};
    if (parts[level] == UINT64_MAX)
        return false;
    parts[level]++;
    for (int i = level + 1; i < 3; i++)
        parts[i] = 0;
    *out = (bay__semver){.major = parts[0], .minor = parts[1], .patch = parts[2]};
    return true;
}

/* test applies the plain comparator "op bound" to the alternative's version. */
static void test(alt *a, enum op op, const bay__semver *bound)
{
    if (!a->v)
        return;
    int c = bay__semver_cmp(a->v, bound);
    bool r = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : op == OP_GE ? c >= 0 : c == 0;
    a->ok = a->ok && r;
}

/* below requires the version to be under the first version past p at level;
 * no such version (the part is at its maximum) means no upper bound. */
static void below(alt *a, const partial *p, int level)
{
    bay__semver hi;
    if (next(&p->v, level, &hi))
        test(a, OP_LT, &hi);
}

/* apply turns "op p" into plain comparators and applies them (npm semantics). */
static void apply(alt *a, enum op op, const partial *p)
{
    int n = p->nparts;
    bay__semver hi;
    if (n == 0)
        return; /* "*", ">=*", "^*": any version */
    switch (op) {
    case OP_EQ:
        if (n == 3) {
            test(a, OP_EQ, &p->v);
            return;
        }
        test(a, OP_GE, &p->v);
        below(a, p, n - 1);
        return;
    case OP_GT:
        if (n == 3)
            test(a, OP_GT, &p->v);
        else if (next(&p->v, n - 1, &hi))
            test(a, OP_GE, &hi);
        else
            a->ok = false;
        return;
    case OP_LE:
        if (n == 3)
            test(a, OP_LE, &p->v);
        else
            below(a, p, n - 1);
        return;
    case OP_GE:
    case OP_LT:
        test(a, op, &p->v);
        return;
    case OP_TILDE:
        test(a, OP_GE, &p->v);
        below(a, p, n >= 2 ? 1 : 0);
        return;
    case OP_CARET:
        test(a, OP_GE, &p->v);
        below(a, p, p->v.major || n == 1 ? 0 : p->v.minor || n == 2 ? 1 : 2);
        return;
    }
}

/* comparator reads one comparator at *p ("op version", with optional spaces
 * after op), applies it to a and advances *p past it. */
static int comparator(const char **p, alt *a, bay_error *err)
{
    const char *start = *p, *optext = "";
    enum op op = OP_EQ;
    char text[128];
    partial v;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(*p, ops[i].text, n) == 0) {
            op = ops[i].op;
            optext = ops[i].text;
            *p += n;
            break;
        }
    }
    *p += strspn(*p, " \t");
    size_t len = strcspn(*p, " \t|");
    if (len == 0)
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%.*s\" has no version after it", (int)(*p - start), start);
    if (len >= sizeof text)
        return bay_error_set(err, BAY_EINVAL, NULL, "version \"%.20s...\" is too long", *p);
    memcpy(text, *p, len);
    text[len] = '\0';
    *p += len;
    if (!parse_partial(text, &v))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "\"%s\" is not a version (expected a form like \"1.2.3\", \"1.2\", \"1.x\" or \"*\")",
                             text);
    if (v.nparts == 0 && (op == OP_LT || op == OP_GT))
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%s%s\" matches no version", optext, text);
    if (a->v && v.v.pre[0] && a->v->major == v.v.major && a->v->minor == v.v.minor &&
        a->v->patch == v.v.patch)
        a->pre_ok = true;
    apply(a, op, &v);
    return 0;
}

/* walk parses range ("||"-separated alternatives of space-separated
 * comparators). With v, *sat tells whether v satisfies it. Returns 0 or
 * BAY_EINVAL with the reason in err. */
static int walk(const char *range, const bay__semver *v, bool *sat, bay_error *err)
{
    const char *p = range;
    bool any = false;
    if (!range)
        return bay_error_set(err, BAY_EINVAL, NULL, "no range");
    for (;;) {
        alt a = {v, true, !v || !v->pre[0]};
        int n = 0;
        for (;; n++) {
            p += strspn(p, " \t");
            if (!*p || *p == '|')
                break;
            int rc = comparator(&p, &a, err);
            if (rc)
                return rc;
        }
        if (n == 0)
            return bay_error_set(err, BAY_EINVAL, NULL, "empty alternative (write \"*\" to accept any version)");
        any = any || (a.ok && a.pre_ok);
        if (!*p)
            break;
        if (p[1] != '|')
            return bay_error_set(err, BAY_EINVAL, NULL, "a single \"|\" (write \"||\" between alternatives)");
        p += 2;
    }
    if (sat)
        *sat = any;
    return 0;
}

int bay__semver_range_check(const char *range, bay_error *err)
{
    return walk(range, NULL, NULL, err);
}

bool bay__semver_satisfies(const bay__semver *v, const char *range)
{
    bool sat = false;
    return v && walk(range, v, &sat, NULL) == 0 && sat;
}
