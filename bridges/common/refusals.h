/* bridges/common/refusals.h — what the sandbox refused a plugin, counted by kind and reported to plugbayd.
 *
 * Every layer that refuses an operation a worker can observe counts it here:
 * the seccomp filter (its refusals trap to a SIGSYS handler that makes the
 * call fail with EPERM and counts it as "syscall NAME"), the Python audit hook
 * ("python EVENT"), the Lua sandbox ("lua WHAT") and the WebAssembly runtime
 * ("wasm WHAT"). The I/O thread sends what is new with each heartbeat's
 * answer, as COMMAND "refused" {kind: count since the last report}; plugbayd
 * adds them up per plugin for `plugbay status` and `info`. The counts are the
 * worker's word: a native plugin could forge or hide them (it shares the
 * process), but not undo a refusal, which the kernel enforces. */
#ifndef BAY_REFUSALS_H
#define BAY_REFUSALS_H

#include <plugbay/value.h>

/* bay__refused counts one refusal of kind (a short name like "lua os.execute";
 * kinds past the 32nd different one count as "other"). Any thread; not from
 * a signal handler. */
void bay__refused(const char *kind);

/* bay__refusals_trap installs the SIGSYS handler that turns a seccomp
 * SECCOMP_RET_TRAP into a counted EPERM. Returns 1 when the filter may trap
 * (this architecture's registers are known), 0 when it should return the
 * errno itself (SCMP_ACT_ERRNO), uncounted. */
int bay__refusals_trap(void);

/* bay__refusals_take returns a new map {kind: count} of the refusals since the
 * last take, or NULL when there were none (or no memory to say so). */
bay_value *bay__refusals_take(void);

#endif
