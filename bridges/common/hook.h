/* bridges/common/hook.h — running the plugin's optional hooks (plugin.h): on_install, on_update, on_uninstall,
 * on_settings; not for bridges. */
#ifndef BAY_WORKER_HOOK_H
#define BAY_WORKER_HOOK_H

#include "send.h"

/* BAY_HOOK_SETTINGS is the call plugbayd sends when the settings changed:
 * args [settings map, changed keys]. */
#define BAY_HOOK_SETTINGS "hook:settings"

/* bay__hook_after_load runs the hook COMMAND load asks for (its "hook" map:
 * {"name": "on_install"} or {"name": "on_update", "from": VERSION}; NULL:
 * none) in one storage transaction, committed only when it succeeds.
 * Returns 0, or the code with err saying which hook failed and why. */
int bay__hook_after_load(const bay_value *hook, bay_error *err);

/* bay__hook_before_unload runs on_uninstall when COMMAND unload's args say
 * the plugin was uninstalled; a failure is logged. */
void bay__hook_before_unload(const bay_value *args);

/* bay__hook_settings serves the BAY_HOOK_SETTINGS call c with args: the
 * new settings take effect, then on_settings runs when the plugin has one.
 * Same contract as bay_plugin_fn. */
int bay__hook_settings(bay_invocation *c, const bay_value *args, bay_value **result);

#endif
