/* sdk/conformance/ffi/conform.c — libconform.so, the plain C library conform/ffi binds: one identity function per type a signature can carry both ways. */
#include <stdbool.h>
#include <stdint.h>

/* conform_echo returns v: conform.echo, for ints. */
int64_t conform_echo(int64_t v)
{
    return v;
}

/* conform_echo_float returns v: conform.echo_float, for floats. */
double conform_echo_float(double v)
{
    return v;
}

/* conform_echo_bool returns v: conform.echo_bool, for booleans. */
bool conform_echo_bool(bool v)
{
    return v;
}

/* conform_echo_str returns s (NULL for nil): conform.echo_str, for strings without NUL bytes, and nil. */
const char *conform_echo_str(const char *s)
{
    return s;
}
