/* bridges/python/lsan.c — LeakSanitizer's suppressions for what CPython keeps until exit by design (sanitizer builds only).
 *
 * Py_FinalizeEx frees most of the interpreter, but CPython 3.11 keeps a few
 * blocks by design (about 13 kB in 6 blocks for a bare interpreter, measured
 * with a program that only starts and finalizes it), and LeakSanitizer would
 * report them when the worker exits. Reports whose stack passes through
 * libpython are suppressed; leaks of what the bridge allocates itself (malloc) still show. */

/* __lsan_default_suppressions is read by LeakSanitizer at start. */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:libpython3.11.so\n";
}
