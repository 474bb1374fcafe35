/* broker/auth.c — a remote host proves its Ed25519 key: COMMAND auth, signed over its connection's one-time token. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "key.h"
#include "value_convert.h"

#define ADD_IT "an admin adds it with `plugbay host add NAME --key FILE.pub --role observer|host|admin`"

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

/* admit gives c host h's role and grants and names it by its key; false when out of memory. */
static bool admit(conn *c, const bay__state_host *h)
{
    char **grants = NULL;
    if (h->role == BAY_ROLE_HOST && (grants = bay__strv_copy((const char *const *)h->granted)) == NULL)
        return false;
    bay__strv_free(c->grants);
    c->grants = grants;
    c->rights = h->role;
    c->keyed = true;
    memcpy(c->key, h->key, sizeof c->key);
    snprintf(c->who, sizeof c->who, "%s (key %s %s, role %s)", c->name, h->name, h->key_id, bay__role_name(h->role));
    return true;
}

/* prove checks c's auth f: 0 with *out the host whose key it proved, or a code with err saying what to do. */
static int prove(broker *b, conn *c, const bay__frame *f, const bay__state_host **out, bay_error *err)
{
    unsigned char key[BAY_KEY_PUBLIC_BYTES], sig[BAY_KEY_SIGNATURE_BYTES];
    char id[BAY_KEY_ID_SIZE];
    bool late = c->auth_over;
    c->auth_over = true;
    if (late)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "auth comes once, as the first frame after HELLO; connect again to prove another key");
    if (!auth_args(f, key, sig))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "COMMAND auth needs {\"key\": the 32-byte public key, \"signature\": 64 bytes} as "
                             "binaries (libplugbay sends it when PLUGBAY_KEY names the host's secret key file)");
    bay__key_id(key, id);
    const bay__state_host *h = bay__state_host_of_key(b->state, key);
    if (h == NULL)
        return bay_error_set(err, BAY_EPERM, NULL, "key %s is no host's key; " ADD_IT, id);
    if (!bay__key_verify_auth(key, c->token, c->name + strlen("host:"), sig))
        return bay_error_set(err, BAY_EPERM, NULL,
                             "the signature does not prove key %s on this connection (it was made for another one: a "
                             "handshake cannot be replayed); connect again with PLUGBAY_KEY set to the secret key of "
                             "host %s", id, h->name);
    if (!admit(c, h))
        return bay_error_set(err, BAY_ENOMEM, NULL, "plugbayd is out of memory");
    *out = h;
    return 0;
}

void auth_handle(broker *b, conn *c, const bay__frame *f)
{
    if (c->uid >= 0) {
        conn_send_error(b, c, f->id, BAY_EINVAL, NULL,
                        "over ipc:// plugbayd knows a host by its user (uid %lld), not by a key: keys are for "
                        "tls+tcp:// (unset PLUGBAY_KEY, or let the user in with `plugbay host add NAME --uid %lld`)",
                        (long long)c->uid, (long long)c->uid);
        return;
    }
    const bay__state_host *h = NULL;
    bay_error err;
    int rc = prove(b, c, f, &h, &err);
    if (rc) {
        bay__log(BAY_LOG_WARN, "audit", "%s: auth: %s: %s", conn_who(c), bay_errname(rc), err.message);
        conn_let_go(b, c, f->id, rc, err.message);
        return;
    }
    bay__log(BAY_LOG_INFO, c->name, "proved key %s of host %s: role %s", h->key_id, h->name, bay__role_name(h->role));
    bay__log(BAY_LOG_INFO, "audit", "%s: auth: done", conn_who(c));
    bay_value *v = bay_map();
    bay_map_set(v, "host", bay_str(h->name));
    bay_map_set(v, "key_id", bay_str(h->key_id));
    bay_map_set(v, "role", bay_str(bay__role_name(h->role)));
    conn_send_value(b, c, f->id, v);
    bay_value_free(v);
}
