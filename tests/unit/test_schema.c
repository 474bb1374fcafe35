/* tests/unit/test_schema.c — typed extension points' schemas: what parses and what is refused, with where; values
 * checked against them, with the place in the value; two schemas compared. */
#include <criterion/criterion.h>
#include <string.h>

#include "schema.h"
#include <plugbay/value.h>

/* parse_text parses JSON text as a schema; the test fails on bad JSON. */
static int parse_text(const char *text, bay__schema **out, bay_error *err)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert_not_null(j, "bad JSON in the test: %s", text);
    int rc = bay__schema_parse(j, out, err);
    json_decref(j);
    return rc;
}

/* check_json checks the value of JSON text value against schema text; why gets the reason. */
static int check_json(const char *schema, const char *value, char *why, size_t len)
{
    bay__schema *s = NULL;
    bay_error err;
    cr_assert_eq(parse_text(schema, &s, &err), 0, "%s: %s", schema, err.message);
    bay_value *v = NULL;
    cr_assert_eq(bay_value_from_json(value, &v, NULL, 0), 0, "%s", value);
    void *raw;
    size_t n;
    cr_assert_eq(bay_value_pack(v, &raw, &n), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, raw, n, NULL), MSGPACK_UNPACK_SUCCESS);
    why[0] = '\0';
    int rc = bay__schema_check(s, &u.data, why, len);
    msgpack_unpacked_destroy(&u);
    free(raw);
    bay_value_free(v);
    bay__schema_free(s);
    return rc;
}

static const char *const greet_args = "{\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\", \"minLength\": 1}, "
                                      "{\"type\": \"object\", \"properties\": {\"loud\": {\"type\": \"boolean\"}, "
                                      "\"times\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3}}, "
                                      "\"required\": [\"loud\"], \"additionalProperties\": false}], "
                                      "\"minItems\": 1, \"maxItems\": 2}";

Test(schema, values_that_fit_pass)
{
    char why[512];
    cr_expect_eq(check_json(greet_args, "[\"ann\"]", why, sizeof why), 0, "%s", why);
    cr_expect_eq(check_json(greet_args, "[\"ann\", {\"loud\": true, \"times\": 2}]", why, sizeof why), 0, "%s", why);
    cr_expect_eq(check_json("{\"type\": [\"string\", \"null\"]}", "null", why, sizeof why), 0, "%s", why);
    cr_expect_eq(check_json("{\"type\": \"number\"}", "1", why, sizeof why), 0, "an integer is a number: %s", why);
    cr_expect_eq(check_json("{\"enum\": [\"a\", 2, true, null]}", "2", why, sizeof why), 0, "%s", why);
    cr_expect_eq(check_json("true", "{\"any\": [1]}", why, sizeof why), 0, "%s", why);
    cr_expect_eq(check_json("{\"type\": \"array\", \"items\": {\"anyOf\": [{\"type\": \"integer\"}, {\"type\": "
                            "\"string\"}]}}", "[1, \"x\", 2]", why, sizeof why), 0, "%s", why);
    cr_expect_eq(check_json("{\"type\": \"object\", \"additionalProperties\": {\"type\": \"integer\"}}",
                            "{\"a\": 1, \"b\": 2}", why, sizeof why), 0, "%s", why);
}

Test(schema, a_value_that_does_not_fit_says_where_and_what_was_expected)
{
    const struct {
        const char *schema, *value, *why;
    } cases[] = {
        {greet_args, "[7]", "at [0]: expected string, got int"},
        {greet_args, "[\"\"]", "at [0]: expected at least 1 bytes, got 0"},
        {greet_args, "[]", "at the top: expected at least 1 items, got 0"},
        {greet_args, "[\"a\", {\"loud\": true}, 3]", "at the top: expected at most 2 items, got 3"},
        {greet_args, "[\"a\", {\"times\": 2}]", "at [1]: expected a member \"loud\", which is required"},
        {greet_args, "[\"a\", {\"loud\": true, \"times\": 9}]", "at [1].times: expected at most 3, got 9"},
        {greet_args, "[\"a\", {\"loud\": 1}]", "at [1].loud: expected boolean, got int"},
        {greet_args, "[\"a\", {\"loud\": true, \"colour\": 1}]", "at [1]: expected no member \"colour\""},
        {"{\"type\": [\"string\", \"null\"]}", "1.5", "at the top: expected null or string, got float"},
        {"{\"type\": \"integer\"}", "1.0", "expected integer, got float"},
        {"{\"type\": \"binary\"}", "\"text\"", "expected binary, got str"},
        {"{\"enum\": [\"red\", \"green\"]}", "\"blue\"", "expected one of [\"red\",\"green\"]"},
        {"{\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}}}",
         "[{\"n\": 1}, {\"n\": \"2\"}]", "at [1].n: expected integer, got str"},
        {"{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\"}]}", "true",
         "matches none of \"anyOf\" (the first says: at the top: expected integer, got bool)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char why[512];
        cr_expect_eq(check_json(cases[i].schema, cases[i].value, why, sizeof why), BAY_ETYPE, "case %zu passed", i);
        cr_expect(strstr(why, cases[i].why), "case %zu: %s", i, why);
    }
}

Test(schema, a_schema_that_does_not_parse_says_where)
{
    const struct {
        const char *schema, *why;
    } cases[] = {
        {"{\"type\": \"str\"}", "schema at /: \"type\" must be one of"},
        {"{\"tpye\": \"string\"}", "schema at /: unknown keyword \"tpye\""},
        {"{\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\"}, {\"minLength\": -1}]}",
         "schema at /prefixItems/1: \"minLength\" must be a non-negative integer"},
        {"{\"properties\": {\"a\": {\"properties\": {\"b\": 5}}}}",
         "schema at /properties/a/properties/b: a schema is an object"},
        {"{\"enum\": [[1]]}", "\"enum\" takes null, booleans, numbers and strings"},
        {"{\"required\": \"a\"}", "\"required\" must be a list of property names"},
        {"{\"anyOf\": []}", "\"anyOf\" must be a non-empty list of schemas"},
        {"{\"minimum\": \"1\"}", "\"minimum\" must be a number"},
        {"{\"$ref\": \"#/x\"}", "unknown keyword \"$ref\""},
        {"[]", "a schema is an object"},
        {"false", "a schema is an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bay__schema *s = (bay__schema *)1;
        bay_error err;
        cr_expect_eq(parse_text(cases[i].schema, &s, &err), BAY_EINVAL, "case %zu parsed", i);
        cr_expect_null(s, "case %zu", i);
        cr_expect(strstr(err.message, cases[i].why), "case %zu: %s", i, err.message);
    }
}

Test(schema, schemas_nested_past_the_limit_are_refused)
{
    char text[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(text, "{\"items\": ");
    strcat(text, "{}");
    for (int i = 0; i < 40; i++)
        strcat(text, "}");
    bay__schema *s;
    bay_error err;
    cr_assert_eq(parse_text(text, &s, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "nest at most 32 levels"), "%s", err.message);
}

Test(schema, two_schemas_compare_as_json_and_the_first_difference_is_named)
{
    json_t *a = json_loads("{\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\"}], \"maxItems\": 1}", 0, NULL);
    json_t *b = json_loads("{\"maxItems\": 1, \"prefixItems\": [{\"type\": \"string\"}], \"type\": \"array\"}", 0, NULL);
    json_t *c = json_loads("{\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\"}], \"maxItems\": 1}", 0, NULL);
    json_t *d = json_loads("{\"type\": \"array\", \"prefixItems\": [{\"type\": \"string\"}]}", 0, NULL);
    char where[300];
    cr_assert(bay__schema_same(a, b, where, sizeof where), "key order does not count: %s", where);
    cr_assert_not(bay__schema_same(a, c, where, sizeof where));
    cr_assert_str_eq(where, "/prefixItems/0/type: \"string\" against \"integer\"");
    cr_assert_not(bay__schema_same(a, d, where, sizeof where));
    cr_assert_str_eq(where, "/maxItems: 1 against nothing");
    cr_assert_not(bay__schema_same(d, a, where, sizeof where));
    cr_assert_str_eq(where, "/maxItems: nothing against 1");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}
