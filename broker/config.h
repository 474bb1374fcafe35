/* broker/config.h — the "config" command: a plugin's settings read, changed by an admin and told to its worker. */
#ifndef BAY_CONFIG_H
#define BAY_CONFIG_H

#include "broker.h"

/* config_command answers the settings of installed plugin p as
 * {"id", "settings": [{"key", "type", "description", "default", "value",
 * "set", "secret", and "enum"/"minimum"/"maximum"/"pattern" when declared}]}
 * (a secret's value and default are nil), after applying args' changes:
 * "set" {KEY: value}, "set_text" {KEY: text read as the setting's type},
 * "reset" [KEY] (back to the default); with "key" only that setting is
 * answered (BAY_ENOENT when undeclared). The changes are checked together
 * and kept together, or none is: BAY_ENOENT for an undeclared key,
 * BAY_EINVAL for a value that does not fit (err names the plugin, the key
 * and what it takes), BAY_ESTATE when p is not installed. A loaded plugin
 * hears of a change through its on_settings. */
int config_command(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

/* config_changes tells whether args would change settings (so an admin must ask). */
bool config_changes(const bay_value *args);

/* config_resend has p's serving worker, which was loaded with settings
 * changed since, hear them all (on_settings, every key as changed). */
void config_resend(broker *b, plugin *p);

/* config_adopted drops the values p's settings hold that its manifest (a
 * new version's) no longer declares or that no longer fit, saying so. */
void config_adopted(broker *b, plugin *p);

#endif
