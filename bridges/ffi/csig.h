/* bridges/ffi/csig.h — the binding type language: "ulong crc32(ulong crc, bytes buf, uint len(buf))".
 *
 * A signature says which C function serves an extension point and how each
 * of its parameters is fed: from a call argument, from the length of a buffer
 * argument, or as an out-parameter whose value joins the result. The language
 * is described in docs/ffi-bindings.md. Parsing needs neither libffi nor the
 * library, so a manifest checker can use it too. */
#ifndef BAY_FFI_CSIG_H
#define BAY_FFI_CSIG_H

#include <stdbool.h>
#include <stddef.h>

#include <plugbay/error.h>

#define BAY_SIG_PARAMS_MAX 16  /* C parameters of one signature */
#define BAY_SIG_NAME_MAX 128   /* bytes of a symbol or parameter name, with the NUL */

/* What a type carries across the call. */
typedef enum bay__sig_kind {
    BAY_SIG_VOID,   /* return type only: nothing */
    BAY_SIG_INT,    /* an integer of `bits` bits, `is_signed` or not */
    BAY_SIG_BOOL,   /* C bool */
    BAY_SIG_FLOAT,  /* C float */
    BAY_SIG_DOUBLE, /* C double */
    BAY_SIG_STR,    /* const char *, NUL-terminated */
    BAY_SIG_BYTES,  /* const void * the library reads, with a len() parameter; parameters only */
} bay__sig_kind;

typedef struct bay__sig_type {
    bay__sig_kind kind;
    unsigned bits;    /* BAY_SIG_INT: 8, 16, 32 or 64 */
    bool is_signed;   /* BAY_SIG_INT */
    bool nullable;    /* BAY_SIG_STR written "str?": a nil argument passes NULL */
    const char *name; /* the type as the language spells it ("ulong", "str"); static */
} bay__sig_type;

/* Where a parameter's value comes from. */
typedef enum bay__sig_role {
    BAY_SIG_ARG, /* the next call argument */
    BAY_SIG_LEN, /* "len(buf)": the byte length of buffer parameter `buffer` */
    BAY_SIG_OUT, /* "out TYPE name": a pointer to a zeroed TYPE the function writes; joins the result */
} bay__sig_role;

typedef struct bay__sig_param {
    bay__sig_type type;
    bay__sig_role role;
    char name[BAY_SIG_NAME_MAX]; /* "" when the signature does not name it */
    size_t buffer;               /* BAY_SIG_LEN: index of the bytes parameter it measures */
    size_t length;               /* a BAY_SIG_BYTES parameter: index of its len() parameter */
} bay__sig_param;

/* One parsed signature; plain data, no pointers to free. */
typedef struct bay__signature {
    bay__sig_type ret;              /* return type (BAY_SIG_VOID for void) */
    char symbol[BAY_SIG_NAME_MAX]; /* the C symbol */
    size_t nparams;                /* C parameters, in params[] */
    size_t nargs;                  /* those of role BAY_SIG_ARG: the arguments a call passes */
    size_t nouts;                  /* those of role BAY_SIG_OUT */
    bay__sig_param params[BAY_SIG_PARAMS_MAX];
} bay__signature;

/* bay__signature_parse parses text into *sig. Returns 0, or BAY_EMANIFEST with
 * err saying where and what is wrong, e.g.
 * `"ulong crc32(uint33 crc)" at character 13: unknown type "uint33" (the types are: ...)`. */
int bay__signature_parse(const char *text, bay__signature *sig, bay_error *err);

/* bay__signature_args writes the arguments a call passes, as the signature
 * names them ("ulong crc, bytes buf"; "nothing" when none), into buf. */
void bay__signature_args(const bay__signature *sig, char *buf, size_t len);

/* bay__sig_param_label writes how messages name parameter i: its type and, when
 * it has one, its name ("bytes buf", "uint"). */
void bay__sig_param_label(const bay__signature *sig, size_t i, char *buf, size_t len);

#endif
