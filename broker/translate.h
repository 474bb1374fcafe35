/* broker/translate.h — a plugin's texts in a locale: its manifest's translations and its message catalogues. */
#ifndef BAY_TRANSLATE_H
#define BAY_TRANSLATE_H

#include <jansson.h>

#include <plugbay/error.h>

#include "locale_name.h"
#include "manifest.h"

/* The most bytes a message catalogue may have. */
#define BAY_CATALOGUE_MAX (256 * 1024)

/* bay__translate_text returns m's field "name", "brief" or "description" in
 * locale (any spelling bay__locale_normalize takes; NULL or none: m's own
 * locale), looked up along bay__locale_chain in m's translations, else m's
 * own text (NULL when m has none). The string belongs to m. */
const char *bay__translate_text(const bay__manifest *m, const char *locale, const char *field);

/* bay__translate_setting returns field ("label" or "description") of m's
 * setting key in locale, as bay__translate_text does, else the declaration's
 * own (NULL when it has none). */
const char *bay__translate_setting(const bay__manifest *m, const char *locale, const char *key, const char *field);

/* bay__translate_title returns the title of m's panel in locale, as
 * bay__translate_text does, else the panel's own. */
const char *bay__translate_title(const bay__manifest *m, const char *locale, const bay__panel_decl *panel);

/* bay__translate_messages reads the first of m's catalogues (its "messages"
 * folder's LOCALE.json) along the chain for locale into *out, a new JSON
 * object of strings the caller frees, and writes its locale to chosen. With
 * no catalogue there (or no "messages" folder), *out is {} and chosen m's
 * locale. A catalogue that is not a regular file inside the plugin folder,
 * is over BAY_CATALOGUE_MAX bytes, or is not a JSON object of strings gives
 * BAY_EMANIFEST, BAY_EIO when it cannot be read, each with err (NULL
 * allowed) naming the file. */
int bay__translate_messages(const bay__manifest *m, const char *locale, char chosen[BAY_LOCALE_MAX], json_t **out,
                            bay_error *err);

#endif
