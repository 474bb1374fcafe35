/* tests/unit/test_testfile.c — cli/testfile.c: a plugin's tests.json read (fields, escapes, refusals with the case
 * and the reason), results compared exactly (NaN aside) and values printed back in the file's notation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testfile.h"

/* read_as writes text to a temporary file and reads it as a test file for a plugin in lang: its code, t and err
 * filled. */
static int read_as(const char *text, const char *lang, test_file *t, bay_error *err)
{
    char path[] = "/tmp/plugbay-testfile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = testfile_read(path, lang, t, err);
    unlink(path);
    return rc;
}

/* read_text reads text as read_as does for a C plugin. */
static int read_text(const char *text, test_file *t, bay_error *err)
{
    return read_as(text, "c", t, err);
}

/* refused asserts that text is refused with a message holding why. */
static void refused(const char *text, const char *why)
{
    test_file t;
    bay_error err;
    cr_assert_eq(read_text(text, &t, &err), BAY_EINVAL, "accepted: %s", text);
    cr_assert(strstr(err.message, why), "message \"%s\" lacks \"%s\"", err.message, why);
}

Test(testfile, a_case_reads_with_its_defaults)
{
    test_file t;
    bay_error err;
    cr_assert_eq(read_text("{\"timeout_ms\": 700, \"cases\": [{\"name\": \"a\", \"call\": \"x.y\"},"
                           "{\"name\": \"b\", \"emit\": \"x.e\", \"timeout_ms\": 9, \"expect\": [1]},"
                           "{\"name\": \"c\", \"call\": \"x.y\", \"args\": [1], \"error\": \"BAY_ETYPE\", \"message\": \"int\"},"
                           "{\"name\": \"d\", \"stream\": \"x.s\", \"args\": [2], \"expect\": [0, 1]}]}",
                           &t, &err), 0, "%s", err.message);
    cr_assert_eq(t.ncases, 4);
    cr_assert(t.cases[3].kind == TEST_STREAM && strcmp(t.cases[3].point, "x.s") == 0);
    cr_assert_eq(bay_value_len(t.cases[3].expect), 2);
    cr_assert(t.cases[0].kind == TEST_CALL && strcmp(t.cases[0].point, "x.y") == 0 && t.cases[0].timeout_ms == 700);
    cr_assert_eq(bay_value_len(t.cases[0].args), 0);
    cr_assert_null(t.cases[0].expect);
    cr_assert(t.cases[1].kind == TEST_EMIT && t.cases[1].timeout_ms == 9);
    cr_assert(t.cases[2].error == BAY_ETYPE && strcmp(t.cases[2].message, "int") == 0);
    testfile_free(&t);
}

Test(testfile, escapes_make_what_json_cannot_carry)
{
    test_file t;
    bay_error err;
    cr_assert_eq(read_text("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": [1, 1.0, {\"$float\": 1}, "
                           "{\"$float\": \"-0.0\"}, {\"$float\": \"nan\"}, {\"$bin\": \"00FF\"}, {\"$str\": \"610062\"}, "
                           "{\"$map\": {\"$k\": {\"$bin\": \"\"}}}, {\"a\": 1, \"$b\": 2}]}]}", &t, &err), 0, "%s",
                 err.message);
    const bay_value *a = t.cases[0].args;
    cr_assert_eq(bay_value_type(bay_array_get(a, 0)), BAY_INT);
    cr_assert_eq(bay_value_type(bay_array_get(a, 1)), BAY_FLOAT);
    cr_assert_eq(bay_value_type(bay_array_get(a, 2)), BAY_FLOAT);
    cr_assert(signbit(bay_value_float(bay_array_get(a, 3))) && bay_value_float(bay_array_get(a, 3)) == 0);
    cr_assert(isnan(bay_value_float(bay_array_get(a, 4))));
    size_t len;
    const char *s = bay_value_str(bay_array_get(a, 5), &len);
    cr_assert(bay_value_type(bay_array_get(a, 5)) == BAY_BIN && len == 2 && (unsigned char)s[1] == 0xff);
    s = bay_value_str(bay_array_get(a, 6), &len);
    cr_assert(bay_value_type(bay_array_get(a, 6)) == BAY_STR && len == 3 && memcmp(s, "a\0b", 3) == 0);
    const bay_value *k = bay_map_get(bay_array_get(a, 7), "$k");
    cr_assert(bay_value_len(bay_array_get(a, 7)) == 1 && bay_value_type(k) == BAY_BIN && bay_value_len(k) == 0);
    cr_assert_eq(bay_value_len(bay_array_get(a, 8)), 2, "two keys: a map as it is");
    testfile_free(&t);
}

Test(testfile, malformed_files_and_cases_are_refused_with_the_case_and_the_reason)
{
    refused("{\"cases\": [\n{\"name\": \"a\" \"call\": \"x\"}]}", "line 2 column ");
    refused("[]", "a test file is an object");
    refused("{\"tests\": []}", "unknown field \"tests\"; a test file has timeout_ms and cases");
    refused("{}", "field \"cases\" must be an array");
    refused("{\"timeout_ms\": 0, \"cases\": []}", "field \"timeout_ms\" must be a whole number");
    refused("{\"cases\": [1]}", "case 1: a case must be an object");
    refused("{\"cases\": [{\"call\": \"x\"}]}", "case 1: field \"name\" must be a non-empty string");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"emit\": \"y\"}]}", "case 1 (\"a\"): a case has one of "
            "\"call\" (a handle), \"emit\" (an event) or \"stream\" (a handle's answer read as a stream), not more");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"stream\": \"y\"}]}", "not more");
    refused("{\"cases\": [{\"name\": \"a\"}]}", "and has none");
    refused("{\"cases\": [{\"name\": \"a\", \"stream\": 7}]}", "field \"stream\" must be an extension point's name");
    refused("{\"cases\": [{\"name\": \"a\", \"stream\": \"x\", \"expect\": 1}]}", "a \"stream\" case expects an array: "
            "the stream's chunks, in order");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": 1}]}", "field \"args\" must be an array");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"error\": \"BAY_NOPE\"}]}", "field \"error\" must be the name");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"message\": \"m\"}]}", "\"message\" goes with \"error\"");
    refused("{\"cases\": [{\"name\": \"a\", \"emit\": \"x\", \"error\": \"BAY_EPLUGIN\"}]}", "an \"emit\" case has no \"error\"");
    refused("{\"cases\": [{\"name\": \"a\", \"emit\": \"x\", \"expect\": 1}]}", "an \"emit\" case expects an array");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": [{\"$bin\": \"0\"}]}]}", "$bin needs a string of hex");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": [{\"$str\": \"zz\"}]}]}", "$str needs a string of hex");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"expect\": {\"$float\": \"big\"}}]}",
            "field \"expect\": $float needs a number");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"expect\": {\"$float\": \"1e999\"}}]}",
            "field \"expect\": $float needs a number");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"expect\": {\"$float\": \"2x\"}}]}",
            "field \"expect\": $float needs a number");
    refused("{\"cases\": [{\"name\": \"ok\", \"call\": \"x\"}, {\"name\": \"a\", \"call\": \"x\", \"timeout_ms\": \"1\"}]}",
            "case 2 (\"a\"): field \"timeout_ms\"");
}

Test(testfile, comparison_is_exact_but_for_nan)
{
    bay_value *nan1 = bay_float(NAN), *nan2 = bay_float(-NAN), *zero = bay_float(0.0), *negzero = bay_float(-0.0),
              *two = bay_int(2), *twof = bay_float(2.0);
    cr_assert(testfile_same(nan1, nan2));
    cr_assert(!testfile_same(zero, negzero));
    cr_assert(!testfile_same(two, twof));
    cr_assert(!testfile_same(nan1, zero));
    bay_value *m1 = bay_map(), *m2 = bay_map();
    bay_map_set(m1, "a", bay_float(NAN));
    bay_map_set(m1, "b", bay_array());
    bay_map_set(m2, "b", bay_array());
    bay_map_set(m2, "a", bay_float(NAN));
    cr_assert(testfile_same(m1, m2), "a map's order does not matter");
    bay_map_set(m2, "c", bay_nil());
    cr_assert(!testfile_same(m1, m2));
    bay_value *vs[] = {nan1, nan2, zero, negzero, two, twof, m1, m2};
    for (size_t i = 0; i < sizeof vs / sizeof *vs; i++)
        bay_value_free(vs[i]);
}

Test(testfile, printed_values_read_back_the_same)
{
    const char *text = "{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": [1, 2.0, 0.5, {\"$float\": \"-0.0\"}, "
                       "{\"$float\": \"inf\"}, {\"$float\": \"nan\"}, {\"$bin\": \"00ff\"}, {\"$str\": \"61ff00\"}, "
                       "\"\\u00e9\\n\", null, true, {\"$map\": {\"$k\": [1]}}, {\"a\": {\"b\": []}}]}]}";
    test_file t, back;
    bay_error err;
    cr_assert_eq(read_text(text, &t, &err), 0, "%s", err.message);
    char *printed = NULL, *again = NULL;
    size_t len;
    FILE *f = open_memstream(&printed, &len);
    testfile_print(f, t.cases[0].args);
    fclose(f);
    cr_assert_eq(asprintf(&again, "{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": %s}]}", printed) > 0, 1);
    cr_assert_eq(read_text(again, &back, &err), 0, "%s: %s", printed, err.message);
    cr_assert(testfile_same(t.cases[0].args, back.cases[0].args), "%s", printed);
    cr_assert(strstr(printed, "[1,2.0,0.5,{\"$float\":\"-0.0\"},{\"$float\":\"inf\"},{\"$float\":\"nan\"},"
                              "{\"$bin\":\"00ff\"},{\"$str\":\"61ff00\"},"), "%s", printed);
    free(printed);
    free(again);
    testfile_free(&t);
    testfile_free(&back);
}

/* A case that another language answers otherwise. */
#define VARIED "{\"cases\": [{\"name\": \"v\", \"call\": \"x.y\", \"args\": [1], \"expect\": 1, " \
               "\"expect_by_language\": {\"lua\": 1.5}, " \
               "\"error_by_language\": {\"ffi\": {\"error\": \"BAY_ETYPE\", \"message\": \"int64\"}}}]}"

Test(testfile, a_case_reads_as_the_plugins_language_has_it)
{
    test_file t;
    bay_error err;
    cr_assert_eq(read_as(VARIED, "c", &t, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(t.cases[0].expect), 1);
    cr_assert_eq(t.cases[0].error, 0);
    testfile_free(&t);
    cr_assert_eq(read_as(VARIED, "lua", &t, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_type(t.cases[0].expect), BAY_FLOAT);
    cr_assert_float_eq(bay_value_float(t.cases[0].expect), 1.5, 1e-9);
    testfile_free(&t);
    cr_assert_eq(read_as(VARIED, "ffi", &t, &err), 0, "%s", err.message);
    cr_assert_null(t.cases[0].expect);
    cr_assert_eq(t.cases[0].error, BAY_ETYPE);
    cr_assert_str_eq(t.cases[0].message, "int64");
    testfile_free(&t);
}

Test(testfile, a_variation_by_language_that_is_malformed_is_refused)
{
    refused("{\"cases\": [{\"name\": \"v\", \"call\": \"x.y\", \"expect\": 1, \"expect_by_language\": {\"cobol\": 2}}]}",
            "unknown language \"cobol\"");
    refused("{\"cases\": [{\"name\": \"v\", \"call\": \"x.y\", \"expect\": 1, \"expect_by_language\": [2]}]}",
            "must be an object of languages");
    refused("{\"cases\": [{\"name\": \"v\", \"call\": \"x.y\", \"error_by_language\": {\"lua\": \"BAY_ETYPE\"}}]}",
            "lua's must be {\"error\": NAME}");
    refused("{\"cases\": [{\"name\": \"v\", \"call\": \"x.y\", \"error_by_language\": {\"lua\": {\"error\": \"NOPE\"}}}]}",
            "field \"error\" must be the name of an error");
    refused("{\"cases\": [{\"name\": \"v\", \"call\": \"x.y\", \"expect_by_language\": {\"lua\": 1}, "
            "\"error_by_language\": {\"lua\": {\"error\": \"BAY_ETYPE\"}}}]}",
            "language lua has both");
}

Test(testfile, a_float_written_as_a_string_reads_as_that_float)
{
    test_file t;
    bay_error err;
    cr_assert_eq(read_text("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"args\": [{\"$float\": \"1\"}, "
                           "{\"$float\": \"5e-324\"}]}]}", &t, &err), 0, "%s", err.message);
    const bay_value *a = t.cases[0].args;
    cr_assert_eq(bay_value_type(bay_array_get(a, 0)), BAY_FLOAT);
    cr_assert_eq(bay_value_float(bay_array_get(a, 0)), 1.0);
    cr_assert_eq(bay_value_float(bay_array_get(a, 1)), 5e-324);
    testfile_free(&t);
}

Test(testfile, a_case_may_name_the_context_its_call_is_made_in)
{
    test_file t;
    bay_error err;
    cr_assert_eq(read_text("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"context\": \"test\"}, "
                           "{\"name\": \"b\", \"call\": \"x\"}]}", &t, &err), 0, "%s", err.message);
    cr_assert_str_eq(t.cases[0].context, "test");
    cr_assert_null(t.cases[1].context);
    testfile_free(&t);
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"context\": \"\"}]}", "field \"context\" must be a non-empty");
    refused("{\"cases\": [{\"name\": \"a\", \"call\": \"x\", \"context\": 7}]}", "field \"context\" must be a non-empty");
}
