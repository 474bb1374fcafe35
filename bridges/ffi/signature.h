/* bridges/ffi/signature.h — the binding type language: "ulong crc32(ulong crc, bytes buf, uint len(buf))".
 *
 * A signature says which C function serves an extension point and how each
 * of its parameters is fed: from a call argument, from the length of a buffer
 * argument, or as an out-parameter whose value joins the result. The language
 * is described in docs/ffi-bindings.md. Parsing needs neither libffi nor the
 * library, so a manifest checker can use it too. */
#ifndef BAY_FFI_SIGNATURE_H
#define BAY_FFI_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

#define BAY_SIG_PARAMS_MAX 16  /* C parameters of one signature */
#define BAY_SIG_NAME_MAX 128   /* bytes of a symbol or parameter name, with the NUL */

/* What a type carries across the call. */
typedef enum bay_sig_kind {
    BAY_SIG_VOID,   /* return type only: nothing */
    BAY_SIG_INT,    /* an integer of `bits` bits, `is_signed` or not */
    BAY_SIG_BOOL,   /* C bool */
    BAY_SIG_FLOAT,  /* C float */
    BAY_SIG_DOUBLE, /* C double */
    BAY_SIG_STR,    /* const char *, NUL-terminated */
    BAY_SIG_BYTES,  /* const void * the library reads, with a len() parameter; parameters only */
} bay_sig_kind;

typedef struct bay_sig_type {
    bay_sig_kind kind;
    unsigned bits;    /* BAY_SIG_INT: 8, 16, 32 or 64 */
    bool is_signed;   /* BAY_SIG_INT */
    bool nullable;    /* BAY_SIG_STR written "str?": a nil argument passes NULL */
    const char *name; /* the type as the language spells it ("ulong", "str"); static */
} bay_sig_type;

/* Where a parameter's value comes from. */
typedef enum bay_sig_role {
    BAY_SIG_ARG, /* the next call argument */
    BAY_SIG_LEN, /* "len(buf)": the byte length of buffer parameter `buffer` */
    BAY_SIG_OUT, /* "out TYPE name": a pointer to a zeroed TYPE the function writes; joins the result */
} bay_sig_role;

typedef struct bay_sig_param {
    bay_sig_type type;
    bay_sig_role role;
    char name[BAY_SIG_NAME_MAX]; /* "" when the signature does not name it */
    size_t buffer;               /* BAY_SIG_LEN: index of the bytes parameter it measures */
    size_t length;               /* a BAY_SIG_BYTES parameter: index of its len() parameter */
} bay_sig_param;

/* One parsed signature; plain data, no pointers to free. */
typedef struct bay_signature {
    bay_sig_type ret;              /* return type (BAY_SIG_VOID for void) */
    char symbol[BAY_SIG_NAME_MAX]; /* the C symbol */
    size_t nparams;                /* C parameters, in params[] */
    size_t nargs;                  /* those of role BAY_SIG_ARG: the arguments a call passes */
    size_t nouts;                  /* those of role BAY_SIG_OUT */
    bay_sig_param params[BAY_SIG_PARAMS_MAX];
} bay_signature;

/* bay_signature_parse parses text into *sig. Returns 0, or BAY_EMANIFEST after
 * writing to why (len bytes) where and what is wrong, e.g.
 * `"ulong crc32(uint33 crc)" at character 13: unknown type "uint33" (the types are: ...)`. */
int bay_signature_parse(const char *text, bay_signature *sig, char *why, size_t len);

/* bay_signature_args writes the arguments a call passes, as the signature
 * names them ("ulong crc, bytes buf"; "nothing" when none), into buf. */
void bay_signature_args(const bay_signature *sig, char *buf, size_t len);

/* bay_sig_param_label writes how messages name parameter i: its type and, when
 * it has one, its name ("bytes buf", "uint"). */
void bay_sig_param_label(const bay_signature *sig, size_t i, char *buf, size_t len);

#endif
