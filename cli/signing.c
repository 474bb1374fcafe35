/* cli/signing.c — plugbay keygen, sign and verify: protocol/key.c's keys and broker/signature.c's signatures from the command line. */
#include "signing.h"

#include <stdio.h>

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

/* on_folder runs fn on a->dir with `with` (the key, or the trusted-keys folder) and,
 * with --json, prints {"dir", "key_id", "files"} and, after a verification,
 * "trusted" and "signer". Returns 0 or the code with err filled. */
static int on_folder(folder_fn fn, const signing_args *a, const char *with, bay__sig_info *info, bay_error *err)
{
    int rc = fn(a->dir, with, info, err);
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
    int rc = on_folder(bay__signature_sign, a, a->key, &info, err);
    if (rc == 0 && !a->json)
        printf("%s: signed %zu files with key %s into %s/" BAY_SIG_FILE "\n", a->dir, info.nfiles, info.key_id,
               a->dir);
    return rc;
}

int cli_verify(const signing_args *a, bay_error *err)
{
    bay__sig_info info;
    int rc = on_folder(bay__signature_verify, a, a->trusted, &info, err);
    if (rc == 0 && !a->json && a->trusted)
        printf("%s: OK, %zu files signed by trusted key %s%s%s%s\n", a->dir, info.nfiles, info.key_id,
               info.signer[0] ? " (" : "", info.signer, info.signer[0] ? ")" : "");
    else if (rc == 0 && !a->json)
        printf("%s: OK, %zu files signed by key %s, which was not checked against trusted keys "
               "(pass --trusted-keys DIR to do so)\n", a->dir, info.nfiles, info.key_id);
    return rc;
}
