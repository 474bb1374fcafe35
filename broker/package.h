/* broker/package.h — plugin packages (.bayplug files): a plugin folder packed reproducibly into one tar.gz, checked and unpacked. */
#ifndef BAY_PACKAGE_H
#define BAY_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

#include "signature.h"

/* The format is docs/packages.md: a POSIX tar (pax, restricted to ustar
 * headers where they suffice) compressed with gzip, holding the plugin
 * folder's files and folders at its top level, in path order, with mtime 0,
 * owner 0:0, no owner names and modes 0755 (folders, executables) or 0644.
 * Each function below returns 0 or a bay_errno code and fills err (NULL
 * allowed) with one line that names the folder or package and says what and
 * why; err->plugin is "". */

#define BAY_PKG_SUFFIX ".bayplug"
#define BAY_PKG_MAX_FILES 10000                  /* default: entries (files and folders) in a package */
#define BAY_PKG_MAX_BYTES ((uint64_t)256 << 20) /* default: bytes of all its files, unpacked; and of a package sent */
#define BAY_PKG_PART (512 * 1024) /* most bytes of a package sent to plugbayd in one part (one NNG message, which
                                     NNG caps at 1 MiB) */

/* The caps that keep an archive bomb out; 0 in a field means its default. */
typedef struct bay__pkg_limits {
    size_t max_files;
    uint64_t max_bytes;
} bay__pkg_limits;

/* What bay__pkg_pack wrote. */
typedef struct bay__pkg_packed {
    char path[4096];   /* the package file */
    char sha256[65];   /* its SHA-256, in lowercase hex */
    size_t nfiles;     /* regular files in it, plugin.sig included */
    bool signed_now;   /* plugin.sig was made from the key given; false: DIR's own was packed, or none */
    bay__sig_info sig; /* when signed_now: the key id that signed it */
} bay__pkg_packed;

/* bay__pkg_pack packs the plugin folder dir (whose plugin.json must be a
 * valid manifest with an "id") into out, replaced atomically when it exists;
 * out NULL writes ID-VERSION.bayplug in the current folder, where ID is the
 * manifest's id with each '/' as '-' and VERSION its version. With key_path,
 * the package's plugin.sig is a new signature of the folder's files by that
 * secret key (dir's own plugin.sig is left out and dir is not written to);
 * without, dir/plugin.sig, when there, goes in as it is. Fills *res.
 * BAY_EINVAL when dir holds a symbolic link, a device, a FIFO or a socket;
 * BAY_EMANIFEST when plugin.json is missing, invalid or has no "id";
 * BAY_EPERM or BAY_EINVAL from signing (as bay__signature_sign); BAY_EIO when
 * a file cannot be read or out written; BAY_ENOMEM. Nothing is left at out
 * (nor beside it) on failure. */
int bay__pkg_pack(const char *dir, const char *key_path, const char *out, bay__pkg_packed *res, bay_error *err);

/* bay__pkg_file_name writes a package's file name to name (len bytes):
 * ID-VERSION.bayplug, with each '/' of id as '-'. */
void bay__pkg_file_name(const char *id, const char *version, char *name, size_t len);

/* bay__pkg_unpack checks the package file and unpacks it into the new folder
 * dest (which must not exist; its parent must), through a private folder
 * beside dest renamed into place once every check passed, so that dest
 * appears whole or not at all and a failure leaves nothing behind. limits
 * NULL means the defaults. Refuses (BAY_EPERM) an absolute path, a ".." part,
 * an empty or "." part, a name that is not printable UTF-8, a symbolic or hard
 * link, a device, FIFO or socket, an entry twice, more entries or bytes than
 * the limits; (BAY_EINVAL) a file that is not a gzip-compressed tar, or is
 * truncated or damaged; (BAY_EMANIFEST) no plugin.json at the top, or an
 * invalid one, or one without "id"; BAY_EEXIST when dest exists; BAY_EIO
 * when the file cannot be read or dest's parent written; BAY_ENOMEM. */
int bay__pkg_unpack(const char *file, const char *dest, const bay__pkg_limits *limits, bay_error *err);

#endif
