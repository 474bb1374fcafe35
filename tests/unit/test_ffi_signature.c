/* tests/unit/test_ffi_signature.c — the binding type language: what parses to what, what each mistake says. */
#include <criterion/criterion.h>
#include <string.h>

#include <plugbay/error.h>

#include "csig.h"

static bay__signature sig;
static bay_error why;

static void parses(const char *text)
{
    why.message[0] = '\0';
    cr_assert_eq(bay__signature_parse(text, &sig, &why), 0, "%s: %s", text, why.message);
}

/* refused asserts that text is refused with a message holding each of the NULL-terminated needles. */
static void refused(const char *text, const char *const *needles)
{
    cr_assert_eq(bay__signature_parse(text, &sig, &why), BAY_EMANIFEST, "%s was accepted", text);
    for (size_t i = 0; needles[i]; i++)
        cr_assert(strstr(why.message, needles[i]), "%s: the message lacks \"%s\": %s", text, needles[i], why.message);
}

#define REFUSED(text, ...) refused(text, (const char *const[]){__VA_ARGS__, NULL})

Test(signature, a_buffer_with_its_length_is_one_argument)
{
    parses("ulong crc32(ulong crc, bytes buf, uint len(buf))");
    cr_assert_str_eq(sig.symbol, "crc32");
    cr_assert_eq(sig.ret.kind, BAY_SIG_INT);
    cr_assert_eq(sig.ret.bits, sizeof(unsigned long) * 8);
    cr_assert_not(sig.ret.is_signed);
    cr_assert_eq(sig.nparams, 3);
    cr_assert_eq(sig.nargs, 2);
    cr_assert_eq(sig.params[1].type.kind, BAY_SIG_BYTES);
    cr_assert_eq(sig.params[1].length, 2);
    cr_assert_eq(sig.params[2].role, BAY_SIG_LEN);
    cr_assert_eq(sig.params[2].buffer, 1);
    cr_assert_eq(sig.params[2].type.bits, sizeof(unsigned) * 8);
}

Test(signature, the_length_may_come_before_its_buffer)
{
    parses("ssize_t write(int fd, size_t len(data), bytes data)");
    cr_assert_eq(sig.params[2].length, 1);
    cr_assert_eq(sig.params[1].buffer, 2);
    cr_assert_eq(sig.nargs, 2);
}

Test(signature, empty_and_void_parameter_lists_take_nothing)
{
    const char *texts[] = {"str zlibVersion()", "str zlibVersion(void)", "  str   zlibVersion ( void )  "};
    for (size_t i = 0; i < 3; i++) {
        parses(texts[i]);
        cr_assert_str_eq(sig.symbol, "zlibVersion");
        cr_assert_eq(sig.ret.kind, BAY_SIG_STR);
        cr_assert_eq(sig.nparams, 0);
    }
}

Test(signature, every_integer_width_and_sign)
{
    const struct {
        const char *text;
        unsigned bits;
        bool is_signed;
    } cases[] = {
        {"int8 f()", 8, true},   {"int16 f()", 16, true},  {"int32 f()", 32, true},  {"int64 f()", 64, true},
        {"uint8 f()", 8, false}, {"uint16 f()", 16, false}, {"uint32 f()", 32, false}, {"uint64 f()", 64, false},
        {"int f()", sizeof(int) * 8, true}, {"long f()", sizeof(long) * 8, true},
        {"size_t f()", sizeof(size_t) * 8, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        parses(cases[i].text);
        cr_assert_eq(sig.ret.kind, BAY_SIG_INT, "%s", cases[i].text);
        cr_assert_eq(sig.ret.bits, cases[i].bits, "%s", cases[i].text);
        cr_assert_eq(sig.ret.is_signed, cases[i].is_signed, "%s", cases[i].text);
    }
}

Test(signature, out_parameters_are_not_arguments)
{
    parses("double frexp(double x, out int exp)");
    cr_assert_eq(sig.nargs, 1);
    cr_assert_eq(sig.nouts, 1);
    cr_assert_eq(sig.params[1].role, BAY_SIG_OUT);
    cr_assert_str_eq(sig.params[1].name, "exp");
}

Test(signature, a_question_mark_makes_a_string_nullable)
{
    parses("size_t strlen(str? s)");
    cr_assert(sig.params[0].type.nullable);
    cr_assert_str_eq(sig.params[0].type.name, "str?");
    parses("size_t strlen(str s)");
    cr_assert_not(sig.params[0].type.nullable);
}

Test(signature, parameter_names_are_optional_except_for_buffers)
{
    parses("double pow(double, double)");
    cr_assert_eq(sig.nargs, 2);
    cr_assert_str_eq(sig.params[0].name, "");
}

Test(signature, arguments_are_listed_for_messages)
{
    char buf[128];
    parses("ulong crc32(ulong crc, bytes buf, uint len(buf))");
    bay__signature_args(&sig, buf, sizeof buf);
    cr_assert_str_eq(buf, "ulong crc, bytes buf");
    parses("double frexp(double, out int exp)");
    bay__signature_args(&sig, buf, sizeof buf);
    cr_assert_str_eq(buf, "double");
    bay__sig_param_label(&sig, 1, buf, sizeof buf);
    cr_assert_str_eq(buf, "out int exp");
    parses("int rand()");
    bay__signature_args(&sig, buf, sizeof buf);
    cr_assert_str_eq(buf, "nothing");
}

Test(signature, an_unknown_type_is_named_with_where_it_is)
{
    REFUSED("ulong crc32(uint33 crc)", "unknown type \"uint33\"", "at character 13", "uint64", "str?");
    REFUSED("int33 f()", "unknown type \"int33\"", "at character 1");
}

Test(signature, a_buffer_without_a_length_is_refused)
{
    REFUSED("ulong crc32(ulong crc, bytes buf)", "bytes parameter \"buf\" has no length parameter",
            "size_t len(buf)");
}

Test(signature, length_parameters_must_fit_a_buffer)
{
    REFUSED("int f(int x, size_t len(x))", "len(x) names no bytes parameter");
    REFUSED("int f(bytes b, size_t len(c))", "len(c) names no bytes parameter");
    REFUSED("int f(bytes b, size_t len(b), size_t len(b))", "two len() parameters");
    REFUSED("int f(bytes b, double len(b))", "len(b) must have an integer type");
    REFUSED("int f(bytes, size_t n)", "a bytes parameter needs a name");
    REFUSED("int f(bytes b, size_t size(b))", "only a length parameter");
}

Test(signature, types_that_do_not_fit_their_place_are_refused)
{
    REFUSED("bytes f()", "\"bytes\" is not a return type");
    REFUSED("int f(int a, void)", "\"void\" is not a parameter type");
    REFUSED("int f(out bytes b)", "an out parameter cannot be \"bytes\"");
    REFUSED("int? f()", "\"?\" (may be NULL) only follows \"str\"");
}

Test(signature, broken_syntax_says_what_was_expected)
{
    REFUSED("double (double x)", "expected the function's symbol");
    REFUSED("double cos double x", "expected \"(\" after the function's symbol", "got \"double\"");
    REFUSED("double cos(double x", "expected \",\" or \")\"", "got the end");
    REFUSED("double cos(double x) extra", "expected the end after \")\"", "got \"extra\"");
    REFUSED("double cos(double x,)", "expected a type, got \")\"");
    REFUSED("", "expected a type, got the end");
    REFUSED("double cos(double x, int x)", "two parameters are named \"x\"");
}

Test(signature, limits_are_stated)
{
    REFUSED("int f(int,int,int,int,int,int,int,int,int,int,int,int,int,int,int,int,int)", "more than 16 parameters");
    char text[300] = "int ";
    memset(text + 4, 'a', 200);
    strcpy(text + 204, "()");
    REFUSED(text, "longer than 127 characters");
}
