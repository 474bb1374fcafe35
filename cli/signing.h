/* cli/signing.h — the plugbay commands that need no broker: make keys, sign and verify plugin folders, pack them. */
#ifndef BAY_CLI_SIGNING_H
#define BAY_CLI_SIGNING_H

#include <stdbool.h>

#include <plugbay/plugbay.h>

/* What the commands that run without plugbayd (these, and cli/publishing.h's) take
 * from the command line; the strings are borrowed from argv. */
typedef struct signing_args {
    const char *dir;     /* sign, pack, test, dev: the plugin folder; new: the plugin id; verify: a plugin folder or a package file; index build,
                            index revoke: the index folder; publish: the package; search: the text; download: ID[@RANGE] */
    const char *operand2; /* index revoke: ID@VERSION; publish: the index folder; new: the folder to make */
    const char *key;     /* sign, pack: the secret key file (pack: NULL packs DIR/plugin.sig as it is) */
    const char *out;     /* keygen: where the secret key goes (the public key goes to OUT.pub); pack: the package
                            file, or NULL for ID-VERSION.bayplug */
    const char *comment; /* keygen: who owns the key, or NULL */
    const char *trusted; /* verify (NULL allowed), search, download: the trusted-keys folder */
    const char *verified; /* index build, index revoke, publish: the verified publishers' keys folder, or NULL */
    const char *reason;  /* index revoke: why */
    const char *index;   /* search, download: the index's URL */
    int timeout_ms;      /* search, download: each fetch's timeout, 0 for the default */
    bool json;           /* print one JSON object instead of a sentence */
    const char *lang;    /* new: the template's language (--lang) */
    const char *types;   /* new: the file of extension points to write typed stubs for (--types), or NULL */
    bool conformance;    /* test: run the kit's conformance cases instead of DIR/tests.json */
    const char *const *with; /* test, dev: the folders of plugins loaded beside DIR's (--with), nwith of them */
    size_t nwith;
} signing_args;

/* A signing command: prints its result on stdout and returns 0, or returns a
 * bay_errno code with err saying what went wrong and what to do. */
typedef int (*signing_fn)(const signing_args *a, bay_error *err);

/* cli_keygen writes a new key pair to a->out and a->out.pub and prints its key id. */
int cli_keygen(const signing_args *a, bay_error *err);

/* cli_sign signs the plugin folder a->dir with the secret key a->key into a->dir/plugin.sig. */
int cli_sign(const signing_args *a, bay_error *err);

/* cli_verify checks a->dir/plugin.sig (against the keys in a->trusted when
 * not NULL) and prints the signer's key id and OK. When a->dir is a package
 * file, it is checked and unpacked into a temporary folder first, which is
 * removed after. */
int cli_verify(const signing_args *a, bay_error *err);

/* cli_temp_folder makes a new folder $TMPDIR/plugbay-WHAT-XXXXXX (/tmp
 * without $TMPDIR) and writes its path to tmp (PATH_MAX bytes; "" when it
 * could not be made). Returns 0, or BAY_EIO with err saying why. */
int cli_temp_folder(const char *what, char *tmp, bay_error *err);

/* cli_unpack_temp checks and unpacks the package file into folder, a new
 * folder below tmp, which it creates in $TMPDIR (else /tmp); each PATH_MAX
 * bytes. tmp stays "" when it could not be created; else the caller removes
 * it. Returns 0 or bay__pkg_unpack's code with err set. */
int cli_unpack_temp(const char *file, char *tmp, char *folder, bay_error *err);

/* cli_pack packs the plugin folder a->dir into a package (docs/packages.md),
 * signed with a->key when given, and prints the file written and its SHA-256. */
int cli_pack(const signing_args *a, bay_error *err);

#endif
