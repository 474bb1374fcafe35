/* broker/auth.c — a remote host proves its Ed25519 key: COMMAND auth, signed over its connection's one-time token. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "value_convert.h"

#define ADD_IT "an admin adds it with `plugbay host add NAME --key FILE.pub --role observer` (or --role host, or admin)"

/* bin_field copies the binary field name of map args, exactly size bytes, to out; false when it is not that. */
static bool bin_field(const bay_value *args, const char *name, unsigned char *out, size_t size)
{
    const bay_value *v = bay_map_get(args, name);
    size_t len = 0;
    const char *bytes = bay_value_type(v) == BAY_BIN ? bay_value_str(v, &len) : NULL;
    if (bytes == NULL || len != size)
        return false;
    memcpy(out, bytes, size);
    return true;
}

/* auth_args reads f's {"key": 32 bytes, "signature": 64 bytes}; false when it is not that. */
static bool auth_args(const bay__frame *f, unsigned char key[BAY_KEY_PUBLIC_BYTES],
                      unsigned char sig[BAY_KEY_SIGNATURE_BYTES])
{
    bay_value *args = NULL;
    bay_error e;
    bool ok = f->value && bay__value_from_object(f->value, &args, &e) == 0 && bay_value_type(args) == BAY_MAP &&
              bin_field(args, "key", key, BAY_KEY_PUBLIC_BYTES) &&
              bin_field(args, "signature", sig, BAY_KEY_SIGNATURE_BYTES);
    bay_value_free(args);
    return ok;
}

int auth_check(const bay__state *st, const char *token, const char *name, const bay__frame *f,
               const bay__state_host **out, bay_error *err)
{
    unsigned char key[BAY_KEY_PUBLIC_BYTES], sig[BAY_KEY_SIGNATURE_BYTES];
    char id[BAY_KEY_ID_SIZE];
    if (!auth_args(f, key, sig))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "COMMAND auth needs {\"key\": the 32-byte public key, \"signature\": 64 bytes} as "
                             "binaries (libplugbay sends it when PLUGBAY_KEY names the host's secret key file)");
    bay__key_id(key, id);
    const bay__state_host *h = bay__state_host_of_key(st, key);
    if (h == NULL)
        return bay_error_set(err, BAY_EPERM, NULL, "key %s is no host's key; " ADD_IT, id);
    if (!bay__key_verify_auth(key, token, name, sig))
        return bay_error_set(err, BAY_EPERM, NULL,
                             "the signature does not prove key %s on this connection (it was made for another one: a "
                             "handshake cannot be replayed); connect again with PLUGBAY_KEY set to the secret key of "
                             "host %s", id, h->name);
    *out = h;
    return 0;
}
