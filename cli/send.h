/* cli/send.h — plugbay install FILE: what a package is and asks, read here; the package sent to plugbayd in parts. */
#ifndef BAY_CLI_SEND_H
#define BAY_CLI_SEND_H

#include <stdbool.h>
#include <stdint.h>

#include <plugbay/plugbay.h>

/* What a package file is, as this side reads it (plugbayd checks it all again). */
typedef struct package_facts {
    char id[128], version[64]; /* its manifest's */
    char key_id[32];           /* the key its plugin.sig was made with; "" when unsigned or altered */
    char sha256[65];           /* of the file, in hex */
    int64_t size;              /* of the file */
    bay_value *asked;          /* the permissions it asks for: an array of strings (owned) */
} package_facts;

/* package_read checks and unpacks the package file into a temporary folder
 * (removed after) and fills *f, which the caller frees with
 * package_facts_free. Returns 0 or the package's error code with err set. */
int package_read(const char *file, package_facts *f, bay_error *err);

/* package_facts_free frees what package_read allocated in f. */
void package_facts_free(package_facts *f);

/* package_send sends the package file, f being what package_read read of it,
 * to plugbayd in package.put parts (docs/packages.md). Returns 0, or the
 * code with err set (plugbayd's refusal, or the file's error). */
int package_send(bay_conn *conn, const char *file, const package_facts *f, int timeout_ms, bay_error *err);

/* An index to fetch from: its URL, the folder of the keys its signature must
 * be by, each fetch's timeout (0: the default), and whether only packages of
 * publishers the index's owner verified are taken. */
typedef struct package_source {
    const char *url, *trusted;
    int timeout_ms;
    bool verified_only;
} package_source;

/* package_fetch fetches the index from (its signature checked), picks the
 * newest version of spec (ID or ID@RANGE) this plugbay takes that fits what
 * the installed plugins' dependencies ask of it and, before it, the same for
 * each dependency plugbayd does not list (listed: the answer to `list`, each
 * installed plugin with its "dependencies" from `info`), recursively, and downloads each package into the folder dir, its
 * size and SHA-256 checked against the index. *files are their paths,
 * dependencies first, and *origins for each what it is and who signed it
 * (each NULL-terminated; the caller frees both with bay__strv_free). Returns 0
 * or the index's, the resolution's or the download's code, or BAY_EPERM (a
 * publisher not verified under from->verified_only), with err set. */
int package_fetch(const package_source *from, const char *spec, const bay_value *listed, const char *dir,
                  char ***files, char ***origins, bay_error *err);

/* package_newer fetches the index as package_fetch does and sets *out to an
 * array of {"id", "installed", "newest"} for each plugin plugbayd lists as
 * installed (listed as for package_fetch) whose newest version in the index
 * that this plugbay takes, and that fits what the others ask of it, is newer. Returns 0 or the index's code with
 * err set. */
int package_newer(const package_source *from, const bay_value *listed, bay_value **out, bay_error *err);

/* package_download fetches the package at url (http://, https:// or
 * file://; at most BAY_PKG_MAX_BYTES) into the folder dir, under the URL's
 * file name, whose path it writes to file (len bytes). Returns 0 or the
 * fetch's code with err set (nothing is left on failure). */
int package_download(const char *url, int timeout_ms, const char *dir, char *file, size_t len, bay_error *err);

#endif
