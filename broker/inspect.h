/* broker/inspect.h — a plugin's code read before it may load: a native plugin's imported symbols against its grants, a WebAssembly module's imports and memory.
 *
 * The sandbox refuses what a plugin's grants do not allow when it tries it;
 * this check refuses, at install and update, a plugin whose code shows it
 * will try: a C plugin's ELF files (its entry, and any shared library it
 * ships) importing a function that only works with a permission it was not
 * granted (execve, fork, system, popen, posix_spawn... need process.spawn;
 * socket, connect, bind, listen, accept, getaddrinfo need a net.connect
 * grant), a Lua plugin shipping a precompiled chunk (the Lua worker loads
 * source only), and a WebAssembly module that does not fit the plugin ABI or
 * declares more initial memory than its limit. It is a check of what the code
 * says, not a wall: a native plugin making system calls directly is the
 * sandbox's to stop (docs/security.md). Python sources are checked by their
 * worker's policy when they load. */
#ifndef BAY_INSPECT_H
#define BAY_INSPECT_H

#include <plugbay/error.h>

#include "manifest.h"

/* bay__inspect checks the code of the plugin of manifest m against granted
 * (NULL-terminated; NULL: nothing granted), what it was or would be granted.
 * Returns 0, or BAY_EPERM naming the file, the symbol and the permission
 * (`plugin.so imports execve, which works only with process.spawn, not
 * granted`), BAY_EPLUGIN for a module that does not fit, or BAY_EIO when a
 * file cannot be read, with err set. */
int bay__inspect(const bay__manifest *m, char *const *granted, bay_error *err);

#endif
