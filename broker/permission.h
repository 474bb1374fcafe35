/* broker/permission.h — what a plugin asks for, what the user grants it, and
 * whether a grant covers an operation. A decision of the broker's core: it
 * reads manifests and grant lists and touches no broker state. */
#ifndef BAY_PERMISSION_H
#define BAY_PERMISSION_H

#include <stdbool.h>

#include "manifest.h"
#include "plugbay/error.h"
#include "plugbay/value.h"

/* permission_requested returns what manifest m asks for: its "permissions"
 * and a provide:NAME for each extension point it provides, each once, in
 * that order; a NULL-terminated list the caller frees with bay__strv_free, or
 * NULL when out of memory. */
char **permission_requested(const bay__manifest *m);

/* permission_match tells whether permission granted covers wanted: equal,
 * or granted ends in '*' and wanted starts with what comes before it. */
bool permission_match(const char *granted, const char *wanted);

/* permission_covering returns the first permission of the NULL-terminated
 * list granted (NULL: none) that covers wanted ("call:NAME"...), or NULL. */
const char *permission_covering(char *const *granted, const char *wanted);

/* permission_granted tells whether the NULL-terminated list granted (NULL:
 * nothing) covers KIND:NAME, such as call:greet or provide:greet. */
bool permission_granted(char *const *granted, const char *kind, const char *name);

/* permission_unconsented returns what manifest now asks for that manifest was
 * (the one the plugin ran with; NULL: none) did not, and that no grant of the
 * NULL-terminated list granted (NULL: nothing) covers: what a changed manifest
 * waits on consent for. A NULL-terminated list the caller frees with
 * bay__strv_free (empty when nothing), or NULL when out of memory. */
char **permission_unconsented(const bay__manifest *was, const bay__manifest *now, char *const *granted);

/* permission_join writes the NULL-terminated v (NULL: none) to out (len
 * bytes) as "a, b, c", cut to fit. */
void permission_join(char *const *v, char *out, size_t len);

/* permission_grant_command writes to out (len bytes) the command line that
 * grants plugin id the NULL-terminated perms, ready to paste into a shell:
 * "plugbay grant ID --grant A --grant B", a word quoted ('call:editor.*')
 * when a shell would read it otherwise. */
void permission_grant_command(const char *id, char *const *perms, char *out, size_t len);

/* permission_choose picks what to grant plugin id (manifest m) at install or
 * grant: all it asks for when all is true, else the strings of array grant,
 * each of which it must ask for. *out gets a NULL-terminated list the caller
 * frees with bay__strv_free. Returns 0; BAY_EPERM when it asks for something
 * and grant is empty; BAY_EINVAL naming a grant it does not ask for;
 * BAY_ENOMEM — each with its message in err. */
int permission_choose(const char *id, const bay__manifest *m, const bay_value *grant, bool all, char ***out,
                      bay_error *err);

#endif
