/* broker/console_assets.h — the web console's files (console/), built into plugbayd by broker/embed_assets.cmake. */
#ifndef BAY_CONSOLE_ASSETS_H
#define BAY_CONSOLE_ASSETS_H

#include <stddef.h>

/* One file: its path relative to console/ ("index.html", "i18n/fr.json"), its bytes and their count. */
typedef struct bay__asset {
    const char *path;
    const unsigned char *data;
    size_t len;
} bay__asset;

/* Every file of console/ but its Markdown, sorted by path, then {NULL, NULL, 0}. */
extern const bay__asset bay__console_assets[];
extern const size_t bay__console_nassets;

#endif
