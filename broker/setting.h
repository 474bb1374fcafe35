/* broker/setting.h — a plugin's settings: their declarations in the manifest and the values an admin gives them. */
#ifndef BAY_SETTING_H
#define BAY_SETTING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A manifest's "settings" is an object of declarations, each
 *   {"type": "string"|"integer"|"number"|"boolean", "default": V,
 *    "description": TEXT, "enum": [V...], "minimum": N, "maximum": N,
 *    "pattern": POSIX-ERE (strings; the whole value must match),
 *    "secret": true|false, "label": TEXT (a form's name for it)}
 * (docs/manifest.md#settings). Keys are 1 to 64 of [a-z0-9_.-], starting
 * with a letter. Each call below that refuses writes to why (len bytes) what
 * was expected, in words that follow "expected" or stand alone. */

/* BAY_SETTING_TEXT_MAX is the most bytes a string setting may hold. */
#define BAY_SETTING_TEXT_MAX 4096

/* bay__setting_key_valid tells whether key may name a setting. */
bool bay__setting_key_valid(const char *key);

/* bay__setting_declared checks declaration decl of setting key: false with
 * why (`field "type": expected ...`) when it is not one. */
bool bay__setting_declared(const char *key, const json_t *decl, char *why, size_t len);

/* bay__setting_fits checks value v against declaration decl: false with why
 * saying what the setting takes ("an integer from 1 to 10"). */
bool bay__setting_fits(const json_t *decl, const json_t *v, char *why, size_t len);

/* bay__setting_parse reads text, as typed after KEY= on a command line, as
 * a value of decl's type: a new value that fits decl, or NULL with why. */
json_t *bay__setting_parse(const json_t *decl, const char *text, char *why, size_t len);

/* bay__setting_secret tells whether decl is a secret (never shown). */
bool bay__setting_secret(const json_t *decl);

/* bay__settings_values returns a new object with every setting of decls
 * (a manifest's "settings", NULL: none) and its value: the one in set when
 * there is one that fits, else its default. NULL when out of memory. */
json_t *bay__settings_values(const json_t *decls, const json_t *set);

#endif
