/* broker/auth.h — a remote host proves its Ed25519 key: COMMAND auth, signed over its connection's one-time token. */
#ifndef BAY_AUTH_H
#define BAY_AUTH_H

#include "broker.h"

/* auth_handle answers host c's COMMAND auth f, {"key": 32-byte public key
 * (bin), "signature": 64 bytes (bin)}: the signature must be that key's of
 * this connection's token and the host's name (bay__key_sign_auth), and the
 * key a host an admin added (plugbay host add NAME --key FILE.pub). Then c
 * gets that host's role and grants, its who names the key, and the answer is
 * {"host", "key_id", "role"}. An unknown key, a signature that does not fit
 * (a handshake recorded on another connection), a second auth, one after
 * other frames, or malformed args are answered BAY_EPERM or BAY_EINVAL with
 * what to do, logged under [audit], and c is let go. Over ipc, where the
 * user decides, it is answered BAY_EINVAL and nothing else changes. */
void auth_handle(broker *b, conn *c, const bay__frame *f);

#endif
