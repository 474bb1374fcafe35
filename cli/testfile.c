/* cli/testfile.c — a plugin's test file (tests.json): its cases read and checked, values with their escapes, results compared. */
#include "testfile.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "value_convert.h"

/* Where a reading is, for its messages: the file, and the case (n from 1; 0 before the cases). */
typedef struct place {
    const char *path;
    size_t n;
    const char *name; /* the case's name, once known */
} place;

/* bad fills err with BAY_EINVAL and "PATH: case N ("NAME"): WHY". Returns BAY_EINVAL. */
static int bad(const place *at, bay_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(const place *at, bay_error *err, const char *fmt, ...)
{
    char why[400], where[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (at->n)
        snprintf(where, sizeof where, " case %zu%s%.120s%s:", at->n, at->name ? " (\"" : "", at->name ? at->name : "",
                 at->name ? "\")" : "");
    return bay_error_set(err, BAY_EINVAL, NULL, "%s:%s %s", at->path, where, why);
}

static int value_of(const json_t *j, const char *field, const place *at, bay_value **out, bay_error *err);

/* hex_value reads the hex string of escape key ("$bin" or "$str") into a binary or a string. */
static int hex_value(const json_t *j, const char *key, const char *field, const place *at, bay_value **out,
                     bay_error *err)
{
    const char *hex = json_string_value(j);
    size_t len = json_string_length(j), n = 0;
    unsigned char *bytes = malloc(len / 2 + 1);
    if (bytes == NULL)
        return bay__value_nomem(err);
    if (hex == NULL || len % 2 || sodium_hex2bin(bytes, len / 2 + 1, hex, len, NULL, &n, NULL) != 0 || n != len / 2) {
        free(bytes);
        return bad(at, err, "field \"%s\": %s needs a string of hex digits, two per byte, like \"00ff\"", field, key);
    }
    *out = strcmp(key, "$bin") == 0 ? bay_bin(bytes, n) : bay_strn((const char *)bytes, n);
    free(bytes);
    return *out ? 0 : bay__value_nomem(err);
}

/* float_value reads a "$float": "nan", "inf", "-inf", "-0.0", a number or a number written as a string ("1",
 * "5e-324"), always a float. */
static int float_value(const json_t *j, const char *field, const place *at, bay_value **out, bay_error *err)
{
    const char *s = json_string_value(j);
    static const struct { const char *name; double d; } named[] = {
        {"nan", NAN}, {"inf", INFINITY}, {"-inf", -INFINITY}, {"-0.0", -0.0}};
    for (size_t i = 0; s && i < sizeof named / sizeof *named; i++)
        if (strcmp(s, named[i].name) == 0)
            return (*out = bay_float(named[i].d)) ? 0 : bay__value_nomem(err);
    char *end = NULL;
    double d = s ? strtod(s, &end) : json_number_value(j);
    if (s ? end == s || *end || !isfinite(d) : !json_is_number(j))
        return bad(at, err, "field \"%s\": $float needs a number (or one in a string, like \"1\") or one of \"nan\", "
                   "\"inf\", \"-inf\", \"-0.0\"", field);
    return (*out = bay_float(d)) ? 0 : bay__value_nomem(err);
}

/* map_value reads the members of the object j, each a value, into a map. */
static int map_value(const json_t *j, const char *field, const place *at, bay_value **out, bay_error *err)
{
    const char *key;
    json_t *member;
    bay_value *map = bay_map();
    int rc = map ? 0 : bay__value_nomem(err);
    json_object_foreach((json_t *)j, key, member) {
        bay_value *v = NULL;
        if (rc == 0 && (rc = value_of(member, field, at, &v, err)) == 0 && bay_map_set(map, key, v) != 0)
            rc = bay__value_nomem(err);
    }
    return bay__value_settle(map, rc, out);
}

/* escaped reads an object of one key beginning with "$": an escape. */
static int escaped(const char *key, const json_t *j, const char *field, const place *at, bay_value **out,
                   bay_error *err)
{
    if (strcmp(key, "$bin") == 0 || strcmp(key, "$str") == 0)
        return hex_value(j, key, field, at, out, err);
    if (strcmp(key, "$float") == 0)
        return float_value(j, field, at, out, err);
    if (strcmp(key, "$map") == 0 && json_is_object(j))
        return map_value(j, field, at, out, err);
    return bad(at, err, "field \"%s\": {\"%s\": ...} is no escape; they are {\"$bin\": HEX}, {\"$str\": HEX}, "
               "{\"$float\": NUMBER|\"nan\"|\"inf\"|\"-inf\"|\"-0.0\"} and {\"$map\": OBJECT}", field, key);
}

/* value_of reads the JSON j of a case's field as a value, escapes and all. */
static int value_of(const json_t *j, const char *field, const place *at, bay_value **out, bay_error *err)
{
    *out = NULL;
    if (json_is_object(j) && json_object_size(j) == 1 && json_object_iter_key(json_object_iter((json_t *)j))[0] == '$') {
        void *it = json_object_iter((json_t *)j);
        return escaped(json_object_iter_key(it), json_object_iter_value(it), field, at, out, err);
    }
    if (json_is_object(j))
        return map_value(j, field, at, out, err);
    if (!json_is_array(j))
        return bay__value_from_jansson(j, out, err);
    bay_value *array = bay_array();
    int rc = array ? 0 : bay__value_nomem(err);
    for (size_t i = 0; rc == 0 && i < json_array_size(j); i++) {
        bay_value *item;
        if ((rc = value_of(json_array_get(j, i), field, at, &item, err)) == 0 && bay_array_push(array, item) != 0)
            rc = bay__value_nomem(err);
    }
    return bay__value_settle(array, rc, out);
}

/* A case's fields. */
static const char *const case_fields[] = {"name",    "call",       "emit",    "stream",
                                          "args",    "expect",     "error",
                                          "message", "timeout_ms", "context",
                                          "expect_by_language",    "error_by_language"};

/* The fields that name a case's extension point, as test_kind numbers them. */
static const char *const kind_fields[] = {"call", "emit", "stream"};

/* The languages whose plugins a case may expect other results of (plugbay new's). */
static const char *const languages[] = {"c", "ffi", "lua", "python", "wasm"};
#define NLANGUAGES (sizeof languages / sizeof *languages)

/* known_fields refuses a field of the object j that is not among fields. */
static int known_fields(const json_t *j, const char *const *fields, size_t n, const place *at, bay_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        size_t i = 0;
        while (i < n && strcmp(key, fields[i]) != 0)
            i++;
        if (i == n)
            return bad(at, err, "unknown field \"%s\"; a %s has %s", key, at->n ? "case" : "test file",
                       at->n ? "name, call, emit or stream, args, expect, error, message, timeout_ms, context, "
                               "expect_by_language and error_by_language"
                             : "timeout_ms and cases");
    }
    return 0;
}

/* timeout reads an optional "timeout_ms" of j (a positive integer) into *ms. */
static int timeout(const json_t *j, const place *at, int *ms, bay_error *err)
{
    const json_t *t = json_object_get(j, "timeout_ms");
    if (t == NULL)
        return 0;
    if (!json_is_integer(t) || json_integer_value(t) <= 0 || json_integer_value(t) > 3600000)
        return bad(at, err, "field \"timeout_ms\" must be a whole number of milliseconds from 1 to 3600000");
    *ms = (int)json_integer_value(t);
    return 0;
}

/* shape checks which fields of the case j go together, and their types. */
static int shape(const json_t *j, const place *at, bay_error *err)
{
    const json_t *emit = json_object_get(j, "emit"), *error = json_object_get(j, "error"),
                 *message = json_object_get(j, "message"), *args = json_object_get(j, "args");
    if (!json_is_string(json_object_get(j, "name")) || json_string_length(json_object_get(j, "name")) == 0)
        return bad(at, err, "field \"name\" must be a non-empty string (what the case checks)");
    size_t kinds = 0, kind = 0;
    for (size_t k = 0; k < sizeof kind_fields / sizeof *kind_fields; k++)
        if (json_object_get(j, kind_fields[k])) {
            kinds++;
            kind = k;
        }
    if (kinds != 1)
        return bad(at, err, "a case has one of \"call\" (a handle), \"emit\" (an event) or \"stream\" (a handle's "
                   "answer read as a stream), %s", kinds ? "not more" : "and has none");
    const json_t *point = json_object_get(j, kind_fields[kind]);
    if (!json_is_string(point) || json_string_length(point) == 0)
        return bad(at, err, "field \"%s\" must be an extension point's name", kind_fields[kind]);
    if (args && !json_is_array(args))
        return bad(at, err, "field \"args\" must be an array of arguments, like [\"world\", 42]");
    if (error && json_object_get(j, "expect"))
        return bad(at, err, "a case has \"expect\" (a result) or \"error\" (a failure), not both");
    if (error && emit)
        return bad(at, err, "an \"emit\" case has no \"error\": it passes when every provider took the event");
    if (error && !bay_errcode(json_string_value(error)))
        return bad(at, err, "field \"error\" must be the name of an error of include/plugbay/error.h, like "
                   "\"BAY_ETYPE\"");
    if (message && !error)
        return bad(at, err, "field \"message\" goes with \"error\"");
    if (message && !json_is_string(message))
        return bad(at, err, "field \"message\" must be a string, a part of the error's message");
    const json_t *context = json_object_get(j, "context");
    if (context && (!json_is_string(context) || json_string_length(context) == 0))
        return bad(at, err, "field \"context\" must be a non-empty string: the context the call is made in");
    return 0;
}

/* by_language checks the case's field (expect_by_language or error_by_language): an object whose keys are
 * languages, for error_by_language each value {"error": NAME, "message": TEXT} with message optional. */
static int by_language(const json_t *j, const char *field, const place *at, bay_error *err)
{
    const json_t *by = json_object_get(j, field), *v;
    const char *lang;
    if (by == NULL)
        return 0;
    if (!json_is_object(by))
        return bad(at, err, "field \"%s\" must be an object of languages (c, ffi, lua, python, wasm)", field);
    json_object_foreach((json_t *)by, lang, v) {
        size_t i = 0;
        while (i < NLANGUAGES && strcmp(lang, languages[i]) != 0)
            i++;
        if (i == NLANGUAGES)
            return bad(at, err, "field \"%s\": unknown language \"%s\" (c, ffi, lua, python or wasm)", field, lang);
        size_t fields = json_object_size(v) - (json_object_get(v, "message") != NULL);
        if (strcmp(field, "error_by_language") == 0 && (!json_is_object(v) || !json_object_get(v, "error") || fields != 1))
            return bad(at, err, "field \"%s\": %s's must be {\"error\": NAME} or {\"error\": NAME, \"message\": "
                       "TEXT}", field, lang);
    }
    return 0;
}

/* for_language makes *view, a new copy of case j as it reads for a plugin in lang: its
 * expect_by_language[lang] or error_by_language[lang] in place of its own expect, or error and message. */
static int for_language(const json_t *j, const char *lang, const place *at, json_t **view, bay_error *err)
{
    *view = NULL;
    int rc = by_language(j, "expect_by_language", at, err);
    if (rc == 0)
        rc = by_language(j, "error_by_language", at, err);
    if (rc == 0 && (*view = json_copy((json_t *)j)) == NULL)
        rc = bay__value_nomem(err);
    if (rc)
        return rc;
    json_t *expect = json_object_get(json_object_get(j, "expect_by_language"), lang),
           *error = json_object_get(json_object_get(j, "error_by_language"), lang);
    if (expect && error)
        return bad(at, err, "language %s has both an \"expect_by_language\" and an \"error_by_language\"", lang);
    if (expect || error) {
        json_object_del(*view, "expect");
        json_object_del(*view, "error");
        json_object_del(*view, "message");
    }
    if (expect)
        json_object_set(*view, "expect", expect);
    if (error)
        json_object_update(*view, error);
    json_object_del(*view, "expect_by_language");
    json_object_del(*view, "error_by_language");
    return 0;
}

/* variants checks the case j as each language reads it. */
static int variants(const json_t *j, const place *at, bay_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NLANGUAGES; i++) {
        json_t *view;
        if ((rc = for_language(j, languages[i], at, &view, err)) == 0)
            rc = shape(view, at, err);
        json_decref(view);
    }
    return rc;
}

/* read_case reads the case j into c (c->timeout_ms holding the file's default) as a plugin in lang reads it. */
static int read_case(const json_t *case_j, const char *lang, place *at, test_case *c, bay_error *err)
{
    if (!json_is_object(case_j))
        return bad(at, err, "a case must be an object like {\"name\": ..., \"call\": ..., \"args\": [...], "
                   "\"expect\": ...}");
    at->name = json_string_value(json_object_get(case_j, "name"));
    json_t *j = NULL;
    int rc = known_fields(case_j, case_fields, sizeof case_fields / sizeof *case_fields, at, err);
    if (rc == 0)
        rc = variants(case_j, at, err);
    if (rc == 0)
        rc = for_language(case_j, lang, at, &j, err);
    if (rc == 0)
        rc = timeout(j, at, &c->timeout_ms, err);
    if (rc) {
        json_decref(j);
        return rc;
    }
    const json_t *args = json_object_get(j, "args"), *expect = json_object_get(j, "expect"),
                 *message = json_object_get(j, "message"), *context = json_object_get(j, "context");
    c->kind = json_object_get(j, "emit") ? TEST_EMIT : json_object_get(j, "stream") ? TEST_STREAM : TEST_CALL;
    c->name = strdup(at->name);
    c->point = strdup(json_string_value(json_object_get(j, kind_fields[c->kind])));
    c->message = message ? strdup(json_string_value(message)) : NULL;
    c->error = bay_errcode(json_string_value(json_object_get(j, "error")));
    c->context = context ? strdup(json_string_value(context)) : NULL;
    if (!c->name || !c->point || (message && !c->message) || (context && !c->context))
        rc = bay__value_nomem(err);
    if (rc == 0)
        rc = args ? value_of(args, "args", at, &c->args, err) : (c->args = bay_array()) ? 0 : bay__value_nomem(err);
    if (rc == 0 && expect)
        rc = value_of(expect, "expect", at, &c->expect, err);
    if (rc == 0 && c->kind == TEST_EMIT && c->expect && bay_value_type(c->expect) != BAY_ARRAY)
        rc = bad(at, err, "an \"emit\" case expects an array: each provider's result, in load order");
    if (rc == 0 && c->kind == TEST_STREAM && c->expect && bay_value_type(c->expect) != BAY_ARRAY)
        rc = bad(at, err, "a \"stream\" case expects an array: the stream's chunks, in order");
    json_decref(j);
    return rc;
}

/* read_cases reads the test file's document root into t. */
static int read_cases(const json_t *root, const char *lang, place *at, test_file *t, bay_error *err)
{
    static const char *const fields[] = {"timeout_ms", "cases"};
    const json_t *cases = json_object_get(root, "cases");
    int ms = BAY_DEFAULT_TIMEOUT_MS;
    if (!json_is_object(root))
        return bad(at, err, "a test file is an object like {\"cases\": [...]}");
    int rc = known_fields(root, fields, 2, at, err);
    if (rc == 0)
        rc = timeout(root, at, &ms, err);
    if (rc == 0 && !json_is_array(cases))
        rc = bad(at, err, "field \"cases\" must be an array of cases");
    if (rc == 0 && (t->cases = calloc(json_array_size(cases) + 1, sizeof *t->cases)) == NULL)
        rc = bay__value_nomem(err);
    for (size_t i = 0; rc == 0 && i < json_array_size(cases); i++) {
        *at = (place){at->path, i + 1, NULL};
        t->cases[t->ncases].timeout_ms = ms;
        rc = read_case(json_array_get(cases, i), lang, at, &t->cases[t->ncases++], err);
    }
    return rc;
}

int testfile_read(const char *path, const char *lang, test_file *t, bay_error *err)
{
    memset(t, 0, sizeof *t);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (root == NULL && jerr.line < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", path, jerr.text);
    if (root == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: line %d column %d: %s", path, jerr.line, jerr.column,
                             jerr.text);
    place at = {path, 0, NULL};
    int rc = read_cases(root, lang, &at, t, err);
    json_decref(root);
    if (rc)
        testfile_free(t);
    return rc;
}

void testfile_free(test_file *t)
{
    for (size_t i = 0; i < t->ncases; i++) {
        test_case *c = &t->cases[i];
        free(c->name);
        free(c->point);
        free(c->message);
        free(c->context);
        bay_value_free(c->args);
        bay_value_free(c->expect);
    }
    free(t->cases);
    memset(t, 0, sizeof *t);
}

bool testfile_same(const bay_value *want, const bay_value *got)
{
    bay_type type = bay_value_type(want);
    if (type != bay_value_type(got))
        return false;
    if (type == BAY_FLOAT && isnan(bay_value_float(want)))
        return isnan(bay_value_float(got));
    bool map = type == BAY_MAP;
    if (type != BAY_ARRAY && !map)
        return bay_value_equal(want, got);
    if (bay_value_len(want) != bay_value_len(got))
        return false;
    for (size_t i = 0; i < bay_value_len(want); i++) {
        const bay_value *w, *g;
        const char *key = map ? bay_map_entry(want, i, &w) : NULL;
        g = map ? bay_map_get(got, key) : bay_array_get(got, i);
        if (!map)
            w = bay_array_get(want, i);
        if (g == NULL || !testfile_same(w, g))
            return false;
    }
    return true;
}

/* print_hex writes {"$KEY":"HEX"} for len bytes of s. */
static void print_hex(FILE *f, const char *key, const char *s, size_t len)
{
    fprintf(f, "{\"%s\":\"", key);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", (unsigned char)s[i]);
    fputs("\"}", f);
}

/* print_str writes a string as JSON, or as {"$str": HEX} when JSON cannot carry it (not UTF-8, a NUL). */
static void print_str(FILE *f, const char *s, size_t len)
{
    json_t *j = memchr(s, '\0', len) ? NULL : json_stringn(s, len);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (text)
        fputs(text, f);
    else
        print_hex(f, "$str", s, len);
    free(text);
    json_decref(j);
}

/* print_float writes a float so that it reads back as one: 3.0, {"$float": "nan"}, {"$float": "-0.0"}. */
static void print_float(FILE *f, double d)
{
    char text[64];
    snprintf(text, sizeof text, "%.17g", d);
    if (isnan(d) || isinf(d) || (d == 0 && signbit(d)))
        fprintf(f, "{\"$float\":\"%s\"}", isnan(d) ? "nan" : isinf(d) ? (d < 0 ? "-inf" : "inf") : "-0.0");
    else
        fprintf(f, "%s%s", text, strpbrk(text, ".e") ? "" : ".0");
}

void testfile_print(FILE *f, const bay_value *v)
{
    size_t len;
    const char *s = bay_value_str(v, &len);
    switch (bay_value_type(v)) {
    case BAY_NIL:
        fputs("null", f);
        return;
    case BAY_BOOL:
        fputs(bay_value_bool(v) ? "true" : "false", f);
        return;
    case BAY_INT:
        fprintf(f, "%lld", (long long)bay_value_int(v));
        return;
    case BAY_FLOAT:
        print_float(f, bay_value_float(v));
        return;
    case BAY_STR:
        print_str(f, s, len);
        return;
    case BAY_BIN:
        print_hex(f, "$bin", s, len);
        return;
    case BAY_ARRAY:
    case BAY_MAP:
        break;
    }
    bool map = bay_value_type(v) == BAY_MAP, literal = map && bay_value_len(v) == 1 && bay_map_entry(v, 0, NULL)[0] == '$';
    fputs(literal ? "{\"$map\":{" : map ? "{" : "[", f);
    for (size_t i = 0; i < bay_value_len(v); i++) {
        const bay_value *item = bay_array_get(v, i);
        const char *key = map ? bay_map_entry(v, i, &item) : NULL;
        fputs(i ? "," : "", f);
        if (map) {
            print_str(f, key, strlen(key));
            fputc(':', f);
        }
        testfile_print(f, item);
    }
    fputs(literal ? "}}" : map ? "}" : "]", f);
}
