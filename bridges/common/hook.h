/* bridges/common/hook.h — running the plugin's optional hooks (plugin.h): on_install, on_update, on_uninstall,
 * on_settings runs as a call (call.c); not for bridges. */
#ifndef BAY_WORKER_HOOK_H
#define BAY_WORKER_HOOK_H

#include "send.h"

/* bay__hook_after_load runs the hook COMMAND load asks for (its "hook" map:
 * {"name": "on_install"} or {"name": "on_update", "from": VERSION}; NULL:
 * none) in one storage transaction, committed only when it succeeds.
 * Returns 0, or the code with err saying which hook failed and why. */
int bay__hook_after_load(const bay_value *hook, bay_error *err);

/* bay__hook_before_unload runs on_uninstall when COMMAND unload's args say
 * the plugin was uninstalled; a failure is logged. */
void bay__hook_before_unload(const bay_value *args);

#endif
