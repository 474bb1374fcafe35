/* bridges/ffi/bay_ffi.h — library bindings for plugbay-worker-c: "library" and signatures, called through libffi.
 *
 * The C worker hands a plugin whose plugin.json names a "library" here instead
 * of loading a native plugin. The worker runs one plugin, so the binding is
 * process-wide state between bay__ffi_load and bay__ffi_unload. */
#ifndef BAY_FFI_BRIDGE_H
#define BAY_FFI_BRIDGE_H

#include <jansson.h>

#include "worker.h"

/* bay__ffi_load binds plugin p, whose manifest is the object manifest read
 * from path: it parses every provide's "signature", opens "library", finds
 * each symbol and prepares its libffi call. functions (as in bay__bridge.load)
 * must each be the function of a provide. The manifest stays the caller's.
 * Returns 0, or BAY_EMANIFEST (a signature or field is wrong, a symbol is
 * missing), BAY_EIO (the library cannot be opened) or BAY_ENOMEM, with err
 * naming the file and the field. Nothing stays loaded after a failure. */
int bay__ffi_load(const bay__plugin_info *p, const json_t *manifest, const char *path, const char *const *functions,
                 bay_error *err);

/* bay__ffi_call calls the C function bound as function (one given to
 * bay__ffi_load) with args converted to its parameter types; same contract as
 * bay__bridge.call. A call whose arguments do not fit the signature is refused
 * with BAY_ETYPE (count or type) or BAY_EINVAL (a value out of the type's
 * range) before anything is called. */
int bay__ffi_call(const char *function, bay_invocation *call, const bay_value *args, bay_value **result);

/* bay__ffi_unload closes the library and frees the bindings. */
void bay__ffi_unload(void);

#endif
