/* cli/new.h — plugbay new: a plugin folder made from the kit's template of a language. */
#ifndef BAY_CLI_NEW_H
#define BAY_CLI_NEW_H

#include <stddef.h>

#include "signing.h"

/* new_usage checks new's --lang (lang, NULL when missing) and ID: 0, or -1
 * with why (len bytes) saying what is wrong (a usage error). */
int new_usage(const char *lang, const char *id, char *why, size_t len);

/* cli_new makes the plugin folder a->operand2 (NULL: ./ the last part of
 * the id) for plugin a->dir in language a->lang from the template, its
 * placeholders @ID@ and @NAME@ filled in, with typed stubs for a->types
 * (stub.h) when set, and says what it made. A folder that exists and is not
 * empty is refused (BAY_EEXIST): nothing is overwritten; one made and then
 * refused (bad --types) is removed. */
int cli_new(const signing_args *a, bay_error *err);

#endif
