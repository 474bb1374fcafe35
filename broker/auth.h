/* broker/auth.h — a remote host proves its Ed25519 key: COMMAND auth, signed over its connection's one-time token. */
#ifndef BAY_AUTH_H
#define BAY_AUTH_H

#include "frame.h"
#include "state.h"

/* auth_check checks a host's COMMAND auth f, {"key": 32-byte public key
 * (bin), "signature": 64 bytes (bin)}, on a connection whose one-time token
 * is token and whose host gave the name name: the signature must be that
 * key's of token and name (bay__key_sign_auth), and the key a host's an admin
 * added to st (plugbay host add NAME --key FILE.pub). Returns 0 with *out that host
 * (borrowed from the state), or BAY_EINVAL (malformed args) or BAY_EPERM (an
 * unknown key, or a signature that does not fit: a handshake recorded on
 * another connection) with err saying what to do. It decides only: conn.c
 * answers, and gives the connection the host's role. */
int auth_check(const bay__state *st, const char *token, const char *name, const bay__frame *f,
               const bay__state_host **out, bay_error *err);

#endif
