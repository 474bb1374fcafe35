/* broker/index_build.h — an index folder's owner side: index.json built from its packages and signed, publish, revoke. */
#ifndef BAY_INDEX_BUILD_H
#define BAY_INDEX_BUILD_H

#include <stddef.h>

#include <plugbay/error.h>

#include "index.h"

/* Each function below reads every *.bayplug of the folder dir (hidden names
 * passed over), checks each as bay__pkg_unpack does (in a temporary folder
 * in $TMPDIR, else /tmp, removed after) and the signature it holds with the
 * key it carries, then writes dir/index.json (sorted, so the same packages
 * give the same bytes) and dir/index.json.sig, its signature by the secret
 * key in key_path; each is replaced atomically. A key of verified_dir's
 * *.pub files is listed as a verified publisher (with verified_dir NULL,
 * each publisher stays as the index.json already there said). Revocations
 * in the index.json already there are carried over. Each returns 0 and
 * fills *res, or a bay_errno code with err (NULL allowed) naming the
 * package or file and saying what to do: BAY_EPERM, BAY_EINVAL or
 * BAY_EMANIFEST for a package that does not unpack or whose plugin.sig does
 * not verify, BAY_EEXIST when two packages hold the same version of a
 * plugin, the errors of bay__key_read_secret, BAY_EIO, BAY_ENOMEM. On
 * failure index.json and index.json.sig are left as they were. */

/* What was written. */
typedef struct bay__index_built {
    char path[4096];              /* dir/index.json */
    char key_id[BAY_KEY_ID_SIZE]; /* the key that signed it */
    size_t npackages;             /* packages listed */
    size_t nplugins;              /* distinct plugin ids among them */
    char published[4096];         /* bay__index_publish: the package's path in dir; "" otherwise */
} bay__index_built;

/* bay__index_build writes dir's index as described above. */
int bay__index_build(const char *dir, const char *key_path, const char *verified_dir, bay__index_built *res,
                     bay_error *err);

/* bay__index_publish copies the package file into dir as ID-VERSION.bayplug
 * (ID with each '/' as '-'), then builds the index as bay__index_build.
 * BAY_EEXIST when dir holds that name already with other bytes (a published
 * version never changes); the same bytes are not copied again. */
int bay__index_publish(const char *package, const char *dir, const char *key_path, const char *verified_dir,
                       bay__index_built *res, bay_error *err);

/* bay__index_revoke marks version spec ("ID@VERSION", an exact version the
 * index lists) revoked for reason (printable text) and builds the index as
 * bay__index_build. BAY_EINVAL for a malformed spec or reason; BAY_ENOENT
 * when the index does not list that version. */
int bay__index_revoke(const char *dir, const char *spec, const char *reason, const char *key_path,
                      const char *verified_dir, bay__index_built *res, bay_error *err);

#endif
