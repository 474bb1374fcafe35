/* protocol/places.h — the well-known places of a plugbayd, shared by plugbayd and every client. */
#ifndef BAY_PLACES_H
#define BAY_PLACES_H

#include <stdbool.h>
#include <stddef.h>

/* A per-user plugbayd keeps its state in $XDG_STATE_HOME/plugbay (else
 * ~/.local/state/plugbay) and listens on $XDG_RUNTIME_DIR/plugbay/plugbayd.sock;
 * a system service (run as root) keeps /var/lib/plugbay and listens on
 * /run/plugbay/plugbayd.sock. A client given no URL dials $PLUGBAY_BROKER,
 * else its user's plugbayd when that socket exists, else the system's. */
#define BAY_SYSTEM_STATE_DIR "/var/lib/plugbay"
#define BAY_SYSTEM_RUN_DIR "/run/plugbay"

/* bay__place_state_dir writes the default state folder of a plugbayd run by
 * user uid (geteuid()) to buf; false when neither $XDG_STATE_HOME nor $HOME
 * says where (or buf is too small). */
bool bay__place_state_dir(unsigned uid, char *buf, size_t len);

/* bay__place_run_dir writes the folder of the default socket of a plugbayd
 * run by user uid to buf (no trailing slash); false when a user other than
 * root has no $XDG_RUNTIME_DIR. */
bool bay__place_run_dir(unsigned uid, char *buf, size_t len);

/* bay__place_broker_url writes the URL a client run by user uid dials when
 * given none (see above) to buf, and to tried, when not NULL, where it looked
 * ("$PLUGBAY_BROKER", or the sockets), for messages. */
void bay__place_broker_url(unsigned uid, char *buf, size_t len, char *tried, size_t tlen);

#endif
