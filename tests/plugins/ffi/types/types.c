/* tests/plugins/ffi/types/types.c — libtypes.so: a plain C library (no plugbay in sight) that ffi/types binds to exercise every type. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int8_t echo_i8(int8_t x) { return x; }
int16_t echo_i16(int16_t x) { return x; }
int32_t echo_i32(int32_t x) { return x; }
int64_t echo_i64(int64_t x) { return x; }
uint8_t echo_u8(uint8_t x) { return x; }
uint16_t echo_u16(uint16_t x) { return x; }
uint32_t echo_u32(uint32_t x) { return x; }
uint64_t echo_u64(uint64_t x) { return x; }

/* uint64_max returns a value no plugbay int can hold. */
uint64_t uint64_max(void) { return UINT64_MAX; }

bool negate(bool b) { return !b; }
float half(float f) { return f / 2; }

/* mix takes one parameter of many types, so that each must reach its register or stack slot. */
double mix(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g, int64_t h)
{
    return (double)a + b + c + (double)d + e + f + (g ? 1000 : 0) + (double)h;
}

/* count_byte counts the bytes equal to c in the n bytes at buf. */
size_t count_byte(const unsigned char *buf, size_t n, int c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += buf[i] == c;
    return k;
}

/* short_len returns the length it was given in a uint8_t. */
uint8_t short_len(const void *buf, uint8_t n) { return n; }

/* divmod writes the quotient and remainder of a / b. */
void divmod(int a, int b, int *quotient, int *remainder)
{
    *quotient = a / b;
    *remainder = a % b;
}

/* name_of returns a string this library owns, or NULL for NULL. */
const char *name_of(const char *s) { return s ? "named" : NULL; }

/* first_word writes, through word, a string this library owns. */
int first_word(const char **word)
{
    *word = "first";
    return 1;
}
