/* cli/signing.c — plugbay keygen, sign, verify and pack: protocol/key.c's keys, broker/signature.c's signatures and broker/package.c's packages from the command line. */
#include "signing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "inspect.h"
#include "package.h"
#include "permission.h"
#include "render.h"
#include "signature.h"

/* reply prints m as JSON and frees it; ok is false when building m ran out of memory. */
static int reply(bay_value *m, bool ok, bay_error *err)
{
    int rc = m && ok ? print_json(m, err) : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    bay_value_free(m);
    return rc;
}

int cli_keygen(const signing_args *a, bay_error *err)
{
    char id[BAY_KEY_ID_SIZE];
    int rc = bay__key_generate(a->out, a->comment, id, err);
    if (rc)
        return rc;
    if (!a->json) {
        printf("key %s: secret key in %s (keep it private), public key in %s.pub "
               "(give it to whoever installs your plugins)\n", id, a->out, a->out);
        return 0;
    }
    char pub[4096];
    snprintf(pub, sizeof pub, "%s.pub", a->out);
    bay_value *m = bay_map();
    bool ok = bay_map_set(m, "key_id", bay_str(id)) == 0 && bay_map_set(m, "secret_key", bay_str(a->out)) == 0 &&
              bay_map_set(m, "public_key", bay_str(pub)) == 0;
    return reply(m, ok, err);
}

/* A signing of a folder or a verification: bay__signature_sign or bay__signature_verify. */
typedef int (*folder_fn)(const char *dir, const char *with, bay__sig_info *info, bay_error *err);

/* on_folder runs fn on the folder dir (a->dir, or where a package a->dir was
 * unpacked) with `with` (the key, or the trusted-keys folder) and, with
 * --json, prints {"dir": a->dir, "key_id", "files"} and, after a
 * verification, "trusted" and "signer". Returns 0 or the code with err filled. */
static int on_folder(folder_fn fn, const signing_args *a, const char *dir, const char *with, bay__sig_info *info,
                     bay_error *err)
{
    int rc = fn(dir, with, info, err);
    if (rc || !a->json)
        return rc;
    bay_value *m = bay_map();
    bool ok = bay_map_set(m, "dir", bay_str(a->dir)) == 0 && bay_map_set(m, "key_id", bay_str(info->key_id)) == 0 &&
              bay_map_set(m, "files", bay_int((int64_t)info->nfiles)) == 0;
    if (ok && fn == bay__signature_verify)
        ok = bay_map_set(m, "trusted", bay_bool(with != NULL)) == 0 &&
             bay_map_set(m, "signer", with ? bay_str(info->signer) : bay_nil()) == 0;
    return reply(m, ok, err);
}

int cli_sign(const signing_args *a, bay_error *err)
{
    bay__sig_info info;
    int rc = on_folder(bay__signature_sign, a, a->dir, a->key, &info, err);
    if (rc == 0 && !a->json)
        printf("%s: signed %zu files with key %s into %s/" BAY_SIG_FILE "\n", a->dir, info.nfiles, info.key_id,
               a->dir);
    return rc;
}

int cli_temp_folder(const char *what, char *tmp, bay_error *err)
{
    int e = bay__file_temp_folder(what, tmp);
    if (e == 0)
        return 0;
    bay_error_set(err, BAY_EIO, NULL, "cannot create a temporary folder %s: %s", tmp, strerror(e));
    tmp[0] = '\0';
    return BAY_EIO;
}

int cli_unpack_temp(const char *file, char *tmp, char *folder, bay_error *err)
{
    int rc = cli_temp_folder("package", tmp, err);
    if (rc)
        return rc;
    snprintf(folder, PATH_MAX, "%s/plugin", tmp);
    return bay__pkg_unpack(file, folder, NULL, err);
}

/* has_signature refuses a package (unpacked in folder) without a plugin.sig,
 * with advice that fits a package. */
static int has_signature(const char *file, const char *folder, bay_error *err)
{
    char sig[PATH_MAX + 16];
    snprintf(sig, sizeof sig, "%s/" BAY_SIG_FILE, folder);
    if (access(sig, F_OK) == 0)
        return 0;
    return bay_error_set(err, BAY_EPERM, NULL, "%s is not signed (it has no " BAY_SIG_FILE "); ask its author for a "
                         "signed package, or make one with `plugbay pack DIR --key FILE`", file);
}

/* name_package replaces, in err's message, each mention of the folder a
 * package was unpacked into by the package file's name. */
static void name_package(bay_error *err, const char *folder, const char *file)
{
    char text[sizeof err->message];
    size_t n = 0, flen = strlen(folder);
    for (const char *p = err->message; *p && n + 1 < sizeof text;) {
        bool mention = strncmp(p, folder, flen) == 0;
        const char *piece = mention ? file : p;
        size_t len = mention ? strlen(file) : 1;
        len = len < sizeof text - 1 - n ? len : sizeof text - 1 - n;
        memcpy(text + n, piece, len);
        n += len;
        p += mention ? flen : 1;
    }
    text[n] = '\0';
    memcpy(err->message, text, n + 1);
}

/* inspected runs plugbayd's install-time check of the plugin's code (inspect.h) on the plugin folder dir, against
 * what its manifest asks for; where names it in messages. */
static int inspected(const char *dir, const char *where, bay_error *err)
{
    bay__manifest *m = NULL;
    int rc = bay__manifest_read(dir, where, &m, err);
    char **asked = rc ? NULL : permission_requested(m);
    if (rc == 0)
        rc = asked ? bay__inspect(m, asked, err) : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    bay__strv_free(asked);
    bay__manifest_free(m);
    return rc;
}

int cli_verify(const signing_args *a, bay_error *err)
{
    bay__sig_info info;
    struct stat st;
    char tmp[PATH_MAX] = "", folder[PATH_MAX];
    bool package = a->dir && stat(a->dir, &st) == 0 && S_ISREG(st.st_mode);
    int rc = package ? cli_unpack_temp(a->dir, tmp, folder, err) : 0;
    if (rc == 0 && package)
        rc = has_signature(a->dir, folder, err);
    if (rc == 0) /* the signature first: an altered file is said to be one before its contents are read */
        rc = on_folder(bay__signature_verify, a, package ? folder : a->dir, a->trusted, &info, err);
    if (rc == 0)
        rc = inspected(package ? folder : a->dir, a->dir, err);
    if (package && rc)
        name_package(err, folder, a->dir);
    if (tmp[0])
        bay__file_remove_tree(AT_FDCWD, tmp);
    if (rc == 0 && !a->json && a->trusted)
        printf("%s: OK, %zu files signed by trusted key %s%s%s%s\n", a->dir, info.nfiles, info.key_id,
               info.signer[0] ? " (" : "", info.signer, info.signer[0] ? ")" : "");
    else if (rc == 0 && !a->json)
        printf("%s: OK, %zu files signed by key %s, which was not checked against trusted keys "
               "(pass --trusted-keys DIR to do so)\n", a->dir, info.nfiles, info.key_id);
    return rc;
}

int cli_pack(const signing_args *a, bay_error *err)
{
    bay__pkg_packed res;
    int rc = bay__pkg_pack(a->dir, a->key, a->out, &res, err);
    if (rc == 0 && !a->json) {
        printf("%s: packed %zu files from %s", res.path, res.nfiles, a->dir);
        printf(res.signed_now ? ", signed with key %s; sha256 %s\n" : "%s; sha256 %s\n",
               res.signed_now ? res.sig.key_id : "", res.sha256);
    }
    if (rc || !a->json)
        return rc;
    bay_value *m = bay_map();
    bool ok = bay_map_set(m, "file", bay_str(res.path)) == 0 && bay_map_set(m, "sha256", bay_str(res.sha256)) == 0 &&
              bay_map_set(m, "files", bay_int((int64_t)res.nfiles)) == 0 &&
              bay_map_set(m, "key_id", res.signed_now ? bay_str(res.sig.key_id) : bay_nil()) == 0;
    return reply(m, ok, err);
}
