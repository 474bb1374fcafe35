/* broker/console.h — the web console plugbayd serves with --console (docs/console.md). */
#ifndef BAY_CONSOLE_H
#define BAY_CONSOLE_H

#include "broker.h"

/* console_panel_url mints a capability for panel (a name m->panels holds) of
 * plugin p and writes the panel's address, "/p/CAP/ENTRY-FILE", to url (len
 * bytes). Returns 0, or BAY_ENOENT when plugbayd serves no console. */
int console_panel_url(broker *b, const plugin *p, const char *panel, char *url, size_t len);

#endif
