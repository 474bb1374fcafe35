/* bridges/ffi/csig.c — parses the binding type language of csig.h into a bay__signature. */
#include "csig.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <plugbay/error.h>

/* Every type name of the language; the C aliases take their width from this platform's ABI. */
static const bay__sig_type types[] = {
    {BAY_SIG_VOID, 0, false, false, "void"},
    {BAY_SIG_INT, 8, true, false, "int8"},
    {BAY_SIG_INT, 16, true, false, "int16"},
    {BAY_SIG_INT, 32, true, false, "int32"},
    {BAY_SIG_INT, 64, true, false, "int64"},
    {BAY_SIG_INT, 8, false, false, "uint8"},
    {BAY_SIG_INT, 16, false, false, "uint16"},
    {BAY_SIG_INT, 32, false, false, "uint32"},
    {BAY_SIG_INT, 64, false, false, "uint64"},
    {BAY_SIG_INT, sizeof(int) * 8, true, false, "int"},
    {BAY_SIG_INT, sizeof(unsigned) * 8, false, false, "uint"},
    {BAY_SIG_INT, sizeof(long) * 8, true, false, "long"},
    {BAY_SIG_INT, sizeof(unsigned long) * 8, false, false, "ulong"},
    {BAY_SIG_INT, sizeof(size_t) * 8, false, false, "size_t"},
    {BAY_SIG_INT, sizeof(ssize_t) * 8, true, false, "ssize_t"},
    {BAY_SIG_BOOL, 0, false, false, "bool"},
    {BAY_SIG_FLOAT, 0, false, false, "float"},
    {BAY_SIG_DOUBLE, 0, false, false, "double"},
    {BAY_SIG_STR, 0, false, false, "str"},
    {BAY_SIG_BYTES, 0, false, false, "bytes"},
};
#define NTYPES (sizeof types / sizeof *types)

/* The text being parsed and where its messages go. */
typedef struct lexer {
    const char *text; /* the whole signature */
    const char *p;    /* the next character */
    bay_error *err;
} lexer;

static int fail(const lexer *lx, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* fail fills lx's err with BAY_EMANIFEST, where, then the message: "TEXT" at
 * character N: MESSAGE (just "TEXT": MESSAGE when at is NULL). Returns
 * BAY_EMANIFEST. */
static int fail(const lexer *lx, const char *at, const char *fmt, ...)
{
    char text[sizeof lx->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (at)
        return bay_error_set(lx->err, BAY_EMANIFEST, NULL, "\"%.200s\" at character %zu: %s", lx->text,
                             (size_t)(at - lx->text) + 1, text);
    return bay_error_set(lx->err, BAY_EMANIFEST, NULL, "\"%.200s\": %s", lx->text, text);
}

static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

static void skip_space(lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
        lx->p++;
}

/* next_token describes what comes next, for "got ..." in messages. */
static void next_token(const lexer *lx, char *buf, size_t len)
{
    const char *p = lx->p;
    if (*p == '\0') {
        snprintf(buf, len, "the end");
        return;
    }
    size_t n = 1;
    while (is_name_char(*p) && is_name_char(p[n]))
        n++;
    snprintf(buf, len, "\"%.*s\"", (int)(n < 40 ? n : 40), p);
}

/* expect skips spaces and consumes c; what says where c belongs in the message. */
static int expect(lexer *lx, char c, const char *what)
{
    char got[48];
    skip_space(lx);
    if (*lx->p == c) {
        lx->p++;
        return 0;
    }
    next_token(lx, got, sizeof got);
    return fail(lx, lx->p, "expected \"%c\" %s, got %s", c, what, got);
}

/* read_name skips spaces and reads a name ([A-Za-z_][A-Za-z0-9_]*) into buf.
 * Returns 0 and leaves buf "" when no name comes next. */
static int read_name(lexer *lx, char buf[BAY_SIG_NAME_MAX])
{
    skip_space(lx);
    const char *start = lx->p;
    buf[0] = '\0';
    if (!is_name_start(*lx->p))
        return 0;
    while (is_name_char(*lx->p))
        lx->p++;
    size_t n = (size_t)(lx->p - start);
    if (n >= BAY_SIG_NAME_MAX)
        return fail(lx, start, "the name \"%.40s...\" is longer than %d characters", start, BAY_SIG_NAME_MAX - 1);
    memcpy(buf, start, n);
    buf[n] = '\0';
    return 0;
}

/* list_types writes every type name, space-separated, for messages. */
static void list_types(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NTYPES && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s%s", used ? " " : "", types[i].name,
                         types[i].kind == BAY_SIG_STR ? " str?" : "");
        used += n > 0 ? (size_t)n : 0;
    }
}

/* parse_type reads a type name and, after "str", an optional "?". */
static int parse_type(lexer *lx, bay__sig_type *t)
{
    char name[BAY_SIG_NAME_MAX], got[48], known[256];
    int rc = read_name(lx, name);
    if (rc)
        return rc;
    const char *start = lx->p - strlen(name);
    if (name[0] == '\0') {
        next_token(lx, got, sizeof got);
        return fail(lx, lx->p, "expected a type, got %s", got);
    }
    size_t i = 0;
    while (i < NTYPES && strcmp(types[i].name, name) != 0)
        i++;
    if (i == NTYPES) {
        list_types(known, sizeof known);
        return fail(lx, start, "unknown type \"%s\" (the types are: %s)", name, known);
    }
    *t = types[i];
    if (*lx->p != '?')
        return 0;
    if (t->kind != BAY_SIG_STR)
        return fail(lx, lx->p, "\"?\" (may be NULL) only follows \"str\", not \"%s\"", name);
    lx->p++;
    t->nullable = true;
    t->name = "str?";
    return 0;
}

/* check_param refuses a type where the parameter's role cannot take it. */
static int check_param(const lexer *lx, const bay__sig_param *p, const char *at)
{
    if (p->role == BAY_SIG_LEN && p->type.kind != BAY_SIG_INT)
        return fail(lx, at, "len(%s) must have an integer type like size_t, not \"%s\"", p->name, p->type.name);
    if (p->role == BAY_SIG_OUT && (p->type.kind == BAY_SIG_BYTES || p->type.kind == BAY_SIG_VOID))
        return fail(lx, at, "an out parameter cannot be \"%s\" (out takes a number, bool or str)", p->type.name);
    if (p->type.kind == BAY_SIG_BYTES && p->name[0] == '\0')
        return fail(lx, at, "a bytes parameter needs a name its length refers to, like \"bytes buf, size_t len(buf)\"");
    if (p->type.kind == BAY_SIG_VOID)
        return fail(lx, at, "\"void\" is not a parameter type (write \"()\" or \"(void)\" for no parameters)");
    return 0;
}

/* find_named returns the index of the first of the first n parameters named
 * name, length parameters aside (their name is their buffer's), or n. */
static size_t find_named(const bay__signature *sig, size_t n, const char *name)
{
    size_t i = 0;
    while (i < n && !(sig->params[i].role != BAY_SIG_LEN && strcmp(sig->params[i].name, name) == 0))
        i++;
    return i;
}

/* parse_param reads one parameter: [out] TYPE [NAME | len(NAME)]. */
static int parse_param(lexer *lx, bay__signature *sig)
{
    skip_space(lx);
    const char *start = lx->p;
    if (sig->nparams == BAY_SIG_PARAMS_MAX)
        return fail(lx, start, "more than %d parameters", BAY_SIG_PARAMS_MAX);
    bay__sig_param *p = &sig->params[sig->nparams];
    *p = (bay__sig_param){.role = BAY_SIG_ARG, .length = SIZE_MAX};
    char word[BAY_SIG_NAME_MAX];
    int rc = read_name(lx, word);
    if (rc)
        return rc;
    if (strcmp(word, "out") == 0)
        p->role = BAY_SIG_OUT;
    else
        lx->p = start;
    if ((rc = parse_type(lx, &p->type)) || (rc = read_name(lx, p->name)))
        return rc;
    skip_space(lx);
    if (*lx->p == '(') {
        if (strcmp(p->name, "len") != 0 || p->role == BAY_SIG_OUT)
            return fail(lx, lx->p, "unexpected \"(\": only a length parameter has one, like \"size_t len(buf)\"");
        lx->p++;
        p->role = BAY_SIG_LEN;
        if ((rc = read_name(lx, p->name)) || (rc = expect(lx, ')', "after the buffer's name in len(...)")))
            return rc;
        if (p->name[0] == '\0')
            return fail(lx, lx->p, "len() needs the name of a bytes parameter, like \"len(buf)\"");
    } else if (p->name[0] && find_named(sig, sig->nparams, p->name) < sig->nparams) {
        return fail(lx, start, "two parameters are named \"%s\"", p->name);
    }
    if ((rc = check_param(lx, p, start)))
        return rc;
    sig->nparams++;
    return 0;
}

/* parse_params reads "(...)": nothing, "void", or parameters separated by ",". */
static int parse_params(lexer *lx, bay__signature *sig)
{
    int rc = expect(lx, '(', "after the function's symbol");
    if (rc)
        return rc;
    skip_space(lx);
    const char *after_paren = lx->p;
    char word[BAY_SIG_NAME_MAX];
    if ((rc = read_name(lx, word)))
        return rc;
    skip_space(lx);
    if (*lx->p == ')' && (word[0] == '\0' || strcmp(word, "void") == 0)) {
        lx->p++;
        return 0;
    }
    lx->p = after_paren;
    for (;;) {
        if ((rc = parse_param(lx, sig)))
            return rc;
        skip_space(lx);
        if (*lx->p == ')') {
            lx->p++;
            return 0;
        }
        if ((rc = expect(lx, ',', "or \")\" after a parameter")))
            return rc;
    }
}

/* link_lengths pairs every len(NAME) with the bytes parameter NAME, and
 * counts what a call passes and gets back. */
static int link_lengths(const lexer *lx, bay__signature *sig)
{
    for (size_t i = 0; i < sig->nparams; i++) {
        bay__sig_param *p = &sig->params[i];
        sig->nargs += p->role == BAY_SIG_ARG;
        sig->nouts += p->role == BAY_SIG_OUT;
        if (p->role != BAY_SIG_LEN)
            continue;
        size_t b = find_named(sig, sig->nparams, p->name);
        if (b == sig->nparams || sig->params[b].type.kind != BAY_SIG_BYTES)
            return fail(lx, NULL, "len(%s) names no bytes parameter (declare one like \"bytes %s\")", p->name,
                        p->name);
        if (sig->params[b].length != SIZE_MAX)
            return fail(lx, NULL, "bytes parameter \"%s\" has two len() parameters", p->name);
        sig->params[b].length = i;
        p->buffer = b;
    }
    for (size_t i = 0; i < sig->nparams; i++)
        if (sig->params[i].type.kind == BAY_SIG_BYTES && sig->params[i].length == SIZE_MAX)
            return fail(lx, NULL, "bytes parameter \"%s\" has no length parameter (add one like \"size_t len(%s)\")",
                        sig->params[i].name, sig->params[i].name);
    return 0;
}

int bay__signature_parse(const char *text, bay__signature *sig, bay_error *err)
{
    lexer lx = {text, text, err};
    char got[48];
    int rc;
    *sig = (bay__signature){0};
    if ((rc = parse_type(&lx, &sig->ret)))
        return rc;
    if (sig->ret.kind == BAY_SIG_BYTES)
        return fail(&lx, text, "\"bytes\" is not a return type (a buffer needs a length; return \"str\" for a string)");
    if ((rc = read_name(&lx, sig->symbol)))
        return rc;
    if (sig->symbol[0] == '\0') {
        next_token(&lx, got, sizeof got);
        return fail(&lx, lx.p, "expected the function's symbol after the return type, got %s", got);
    }
    if ((rc = parse_params(&lx, sig)))
        return rc;
    skip_space(&lx);
    if (*lx.p) {
        next_token(&lx, got, sizeof got);
        return fail(&lx, lx.p, "expected the end after \")\", got %s", got);
    }
    return link_lengths(&lx, sig);
}

void bay__sig_param_label(const bay__signature *sig, size_t i, char *buf, size_t len)
{
    const bay__sig_param *p = &sig->params[i];
    if (p->role == BAY_SIG_LEN)
        snprintf(buf, len, "%s len(%s)", p->type.name, p->name);
    else
        snprintf(buf, len, "%s%s%s%s", p->role == BAY_SIG_OUT ? "out " : "", p->type.name, p->name[0] ? " " : "",
                 p->name);
}

void bay__signature_args(const bay__signature *sig, char *buf, size_t len)
{
    size_t used = 0;
    snprintf(buf, len, "nothing");
    for (size_t i = 0; i < sig->nparams && used < len; i++) {
        if (sig->params[i].role != BAY_SIG_ARG)
            continue;
        char label[BAY_SIG_NAME_MAX + 16];
        bay__sig_param_label(sig, i, label, sizeof label);
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", label);
        used += n > 0 ? (size_t)n : 0;
    }
}
