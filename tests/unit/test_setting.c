/* tests/unit/test_setting.c — setting declarations, values checked against them, text read as values, the values a
 * plugin sees. */
#include <criterion/criterion.h>
#include <string.h>

#include "setting.h"

/* decl parses text, asserting it is JSON. */
static json_t *decl(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(j, "%s: %s", text, je.text);
    return j;
}

Test(setting, keys)
{
    cr_assert(bay__setting_key_valid("greeting"));
    cr_assert(bay__setting_key_valid("a.b-c_9"));
    cr_assert_not(bay__setting_key_valid(""));
    cr_assert_not(bay__setting_key_valid("9lives"));
    cr_assert_not(bay__setting_key_valid("Greeting"));
    cr_assert_not(bay__setting_key_valid("a b"));
    cr_assert_not(bay__setting_key_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

Test(setting, bad_declarations_say_which_field_and_what_it_needs)
{
    static const struct {
        const char *json, *says;
    } bad[] = {
        {"\"x\"", "expected an object like"},
        {"{\"type\": \"text\", \"default\": \"a\", \"description\": \"d\"}", "field \"type\": expected \"string\""},
        {"{\"type\": \"string\", \"default\": \"a\"}", "field \"description\": expected a non-empty string"},
        {"{\"type\": \"string\", \"description\": \"d\"}", "field \"default\": expected a string"},
        {"{\"type\": \"integer\", \"default\": 1.5, \"description\": \"d\"}", "field \"default\": expected an integer"},
        {"{\"type\": \"integer\", \"default\": 11, \"maximum\": 10, \"description\": \"d\"}",
         "field \"default\": expected an integer of at most 10"},
        {"{\"type\": \"string\", \"default\": \"a\", \"minimum\": 1, \"description\": \"d\"}",
         "field \"minimum\": expected no bound"},
        {"{\"type\": \"number\", \"default\": 1, \"minimum\": 2, \"maximum\": 1, \"description\": \"d\"}",
         "field \"maximum\": expected a number no less than minimum"},
        {"{\"type\": \"string\", \"default\": \"a\", \"pattern\": \"(\", \"description\": \"d\"}",
         "field \"pattern\": expected a POSIX extended regular expression that compiles"},
        {"{\"type\": \"integer\", \"default\": 1, \"pattern\": \"1\", \"description\": \"d\"}",
         "field \"pattern\": expected a regular expression, on a string setting"},
        {"{\"type\": \"string\", \"default\": \"a\", \"enum\": [], \"description\": \"d\"}",
         "field \"enum\": expected a non-empty array"},
        {"{\"type\": \"string\", \"default\": \"a\", \"enum\": [\"a\", 1], \"description\": \"d\"}",
         "field \"enum\": expected values of the setting's type"},
        {"{\"type\": \"string\", \"default\": \"c\", \"enum\": [\"a\", \"b\"], \"description\": \"d\"}",
         "field \"default\": expected one of \"a\", \"b\""},
        {"{\"type\": \"boolean\", \"default\": true, \"secret\": 1, \"description\": \"d\"}",
         "field \"secret\": expected true or false"},
        {"{\"type\": \"boolean\", \"default\": true, \"hidden\": true, \"description\": \"d\"}",
         "unknown field \"hidden\""},
        {"{\"type\": \"boolean\", \"default\": true, \"label\": \"\", \"description\": \"d\"}",
         "field \"label\": expected a non-empty string naming the setting in a form"},
        {"{\"type\": \"boolean\", \"default\": true, \"label\": 1, \"description\": \"d\"}",
         "field \"label\": expected a non-empty string"},
    };
    char why[400];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *d = decl(bad[i].json);
        cr_expect_not(bay__setting_declared("k", d, why, sizeof why), "%s", bad[i].json);
        cr_expect(strstr(why, bad[i].says), "%s: %s", bad[i].json, why);
        json_decref(d);
    }
    json_t *d = decl("{\"type\": \"boolean\", \"default\": true, \"label\": \"Loud\", \"description\": \"d\"}");
    cr_expect(bay__setting_declared("k", d, why, sizeof why), "a label is taken: %s", why);
    cr_assert_not(bay__setting_declared("Bad key", d, why, sizeof why));
    cr_assert(strstr(why, "expected a name of 1 to 64"), "%s", why);
    json_decref(d);
}

Test(setting, values_fit_their_declaration_or_say_what_it_takes)
{
    json_t *d = decl("{\"type\": \"integer\", \"default\": 3, \"minimum\": 0, \"maximum\": 10, \"description\": \"d\"}");
    char why[300];
    cr_assert(bay__setting_declared("retries", d, why, sizeof why), "%s", why);
    json_t *ok = json_integer(10), *high = json_integer(11), *real = json_real(2.0), *text = json_string("2");
    cr_assert(bay__setting_fits(d, ok, why, sizeof why));
    cr_assert_not(bay__setting_fits(d, high, why, sizeof why));
    cr_assert_str_eq(why, "an integer from 0 to 10");
    cr_assert_not(bay__setting_fits(d, real, why, sizeof why));
    cr_assert_not(bay__setting_fits(d, text, why, sizeof why));
    json_decref(ok), json_decref(high), json_decref(real), json_decref(text);
    json_decref(d);
    d = decl("{\"type\": \"string\", \"default\": \"Hello\", \"pattern\": \"[A-Z][a-z]*\", \"description\": \"d\"}");
    json_t *good = json_string("Howdy"), *lower = json_string("howdy"), *part = json_string("Howdy!");
    cr_assert(bay__setting_fits(d, good, why, sizeof why));
    cr_assert_not(bay__setting_fits(d, lower, why, sizeof why));
    cr_assert_not(bay__setting_fits(d, part, why, sizeof why), "the whole value must match");
    cr_assert_str_eq(why, "a string matching [A-Z][a-z]*");
    json_decref(good), json_decref(lower), json_decref(part);
    json_decref(d);
    /* A string with a NUL inside, or longer than 4096 bytes, never fits. */
    d = decl("{\"type\": \"string\", \"default\": \"\", \"description\": \"d\"}");
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *nul = json_stringn("a\0b", 3), *long_one = json_string(big);
    cr_assert_not(bay__setting_fits(d, nul, why, sizeof why));
    cr_assert_not(bay__setting_fits(d, long_one, why, sizeof why));
    cr_assert_str_eq(why, "a string of at most 4096 bytes");
    json_decref(nul), json_decref(long_one);
    json_decref(d);
}

Test(setting, text_is_read_as_the_setting_type)
{
    static const struct {
        const char *decl, *text, *json; /* json NULL: refused */
    } cases[] = {
        {"{\"type\": \"integer\", \"default\": 0, \"description\": \"d\"}", "42", "42"},
        {"{\"type\": \"integer\", \"default\": 0, \"description\": \"d\"}", "4.2", NULL},
        {"{\"type\": \"integer\", \"default\": 0, \"description\": \"d\"}", "", NULL},
        {"{\"type\": \"integer\", \"default\": 0, \"description\": \"d\"}", "99999999999999999999", NULL},
        {"{\"type\": \"number\", \"default\": 0, \"description\": \"d\"}", "0.25", "0.25"},
        {"{\"type\": \"number\", \"default\": 0, \"description\": \"d\"}", "inf", NULL},
        {"{\"type\": \"number\", \"default\": 0, \"description\": \"d\"}", "nan", NULL},
        {"{\"type\": \"boolean\", \"default\": false, \"description\": \"d\"}", "true", "true"},
        {"{\"type\": \"boolean\", \"default\": false, \"description\": \"d\"}", "yes", NULL},
        {"{\"type\": \"string\", \"default\": \"\", \"description\": \"d\"}", "a b=c", "\"a b=c\""},
        {"{\"type\": \"string\", \"default\": \"a\", \"enum\": [\"a\", \"b\"], \"description\": \"d\"}", "c", NULL},
    };
    char why[300];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *d = decl(cases[i].decl), *v = bay__setting_parse(d, cases[i].text, why, sizeof why);
        if (cases[i].json == NULL) {
            cr_expect_null(v, "%s took \"%s\"", cases[i].decl, cases[i].text);
        } else {
            char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
            cr_expect(got && strcmp(got, cases[i].json) == 0, "\"%s\" read as %s", cases[i].text, got ? got : why);
            free(got);
        }
        json_decref(v);
        json_decref(d);
    }
}

Test(setting, a_plugin_sees_every_setting_set_or_its_default_never_a_value_that_does_not_fit)
{
    json_t *decls = decl("{\"a\": {\"type\": \"integer\", \"default\": 1, \"description\": \"d\"}, "
                         "\"b\": {\"type\": \"string\", \"default\": \"x\", \"description\": \"d\"}}");
    json_t *set = decl("{\"a\": \"not an integer\", \"b\": \"y\", \"gone\": 5}");
    json_t *all = bay__settings_values(decls, set);
    char *text = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert_str_eq(text, "{\"a\":1,\"b\":\"y\"}");
    free(text);
    json_decref(all);
    all = bay__settings_values(NULL, set);
    cr_assert_eq(json_object_size(all), 0);
    json_decref(all);
    json_decref(set);
    json_decref(decls);
}
