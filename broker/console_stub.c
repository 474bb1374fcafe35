/* broker/console_stub.c — console_panel_url while plugbayd has no web console: no panel has an address. */
#include "console.h"

int console_panel_url(broker *b, const plugin *p, const char *panel, char *url, size_t len)
{
    (void)b, (void)p, (void)panel;
    if (len)
        url[0] = '\0';
    return BAY_ENOENT;
}
