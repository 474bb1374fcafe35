/* tests/plugins/wasm/common/testing.h — helpers the wasm test plugins share: string arguments, and the answer of an import handed bad bytes. */
#ifndef BAY_WASM_TESTING_H
#define BAY_WASM_TESTING_H

#include <stddef.h>

#include "plugbay_wasm.h"

/* arg_cstr reads the next argument, a string, into buf (size bytes) as a NUL-terminated string: 0, or a code after
 * bay_fail. */
int arg_cstr(bay_args *args, char *buf, size_t size);

/* out_answer writes [rc, what plugbay.reply holds] to result: how a raw import call, rc its code, was answered. */
void out_answer(bay_out *result, int rc);

#endif
