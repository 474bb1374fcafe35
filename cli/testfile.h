/* cli/testfile.h — a plugin's test file (tests.json): its cases read and checked, values with their escapes, results compared. */
#ifndef BAY_CLI_TESTFILE_H
#define BAY_CLI_TESTFILE_H

#include <stdbool.h>
#include <stdio.h>

#include <plugbay/plugbay.h>

/* What a case does with its extension point. */
typedef enum test_kind {
    TEST_CALL,   /* "call": a handle called, its result compared */
    TEST_EMIT,   /* "emit": an event, every provider must take it without error */
    TEST_STREAM, /* "stream": a handle's answer read as a stream, its chunks compared in order */
} test_kind;

/* One case: a call of a handle, an event emitted, or a handle's answer streamed. */
typedef struct test_case {
    char *name;
    test_kind kind;
    char *point;       /* the extension point called, emitted or streamed */
    bay_value *args;   /* an array (owned) */
    bay_value *expect; /* the result (an event: the providers' values in order; a stream: its chunks in order), or
                        * NULL for any (owned) */
    int error;         /* the code the call must fail with (0: it must succeed) */
    char *message;     /* with error: a part of the message, or NULL */
    int timeout_ms;    /* the case's own, else the file's, else BAY_DEFAULT_TIMEOUT_MS */
    char *context;     /* the context the call is made in ("context"), or NULL: the run's */
} test_case;

/* A test file read whole. */
typedef struct test_file {
    test_case *cases;
    size_t ncases;
} test_file;

/* testfile_read reads and checks the test file at path (docs/sdk.md has the
 * format) into *t, which the caller frees with testfile_free, as a plugin in
 * language lang ("c", "ffi", "lua", "python", "wasm") reads it: a case's
 * expect_by_language or error_by_language for lang in place of its own
 * result. Returns 0, or BAY_EINVAL (BAY_EIO when unreadable) with err naming
 * the file and, for a syntax error, its line and column, else the case (from
 * 1) and what is wrong with it. */
int testfile_read(const char *path, const char *lang, test_file *t, bay_error *err);

/* testfile_free frees what testfile_read allocated in t. */
void testfile_free(test_file *t);

/* testfile_same tells whether got is what a test expects: the same types and
 * values as bay_value_equal has them, except that any NaN equals any NaN. */
bool testfile_same(const bay_value *want, const bay_value *got);

/* testfile_print writes v to f as a test file writes values: JSON, with the
 * escapes ("$bin", "$str", "$float", "$map") for what JSON cannot carry. */
void testfile_print(FILE *f, const bay_value *v);

#endif
