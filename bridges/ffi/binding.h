/* bridges/ffi/binding.h — one bound C function, shared by bind.c (loading) and invoke.c (calling). */
#ifndef BAY_FFI_BINDING_H
#define BAY_FFI_BINDING_H

#include <ffi.h>

#include <plugbay/plugin.h>

#include "csig.h"

/* One provide of a library binding, ready to call. */
typedef struct bay__binding {
    char function[BAY_SIG_NAME_MAX];       /* the plugin function the broker calls it by */
    bay__signature sig;                     /* from the provide's "signature" */
    void (*fn)(void);                      /* the symbol, from dlsym */
    ffi_cif cif;                           /* prepared by ffi_prep_cif from sig */
    ffi_type *arg_types[BAY_SIG_PARAMS_MAX]; /* what cif points to */
} bay__binding;

/* bay__binding_prepare fills b->arg_types and b->cif from b->sig. Returns
 * 0, or the ffi_status ffi_prep_cif gave. */
int bay__binding_prepare(bay__binding *b);

/* bay__binding_call converts args (borrowed) to b's parameter types, calls
 * b->fn through libffi and converts the return value and out-parameters into
 * *result. Same contract as bay__bridge.call. */
int bay__binding_call(bay__binding *b, bay_invocation *call, const bay_value *args, bay_value **result);

#endif
