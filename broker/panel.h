/* broker/panel.h — the commands behind plugins' own panels: panels, panel.call and messages. */
#ifndef BAY_PANEL_H
#define BAY_PANEL_H

#include "broker.h"

/* panel_list answers `panels {"id"?, "locale"?}`: [{"plugin", "panel",
 * "title" (in locale), "url" (console_panel_url's, nil without a console)}]
 * for every installed plugin declaring ui (only id's, when given: BAY_ENOENT
 * when there is no such plugin). */
int panel_list(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

/* panel_messages answers `messages {"id", "locale"?}`: {"locale": chosen,
 * "messages": {KEY: TEXT}}, p's catalogue along the locale's fallback chain
 * (translate.h). */
int panel_messages(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err);

/* panel_call runs `panel.call {"id", "name", "args"?: [...], "timeout_ms"?}`
 * of host c (request f): a call of handle name of plugin p only
 * (route_call_plugin), whose RESULT or ERROR answers f. Host c's grants must
 * cover call:NAME. Returns 0 once on its way, else the refusal with err. */
int panel_call(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err);

#endif
