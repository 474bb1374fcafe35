/* broker/conn.h — connections: the public socket, one socket per peer, frames in and out. */
#ifndef BAY_CONN_H
#define BAY_CONN_H

#include "broker.h"

/* What plugbayd does with one type of frame from a peer past its HELLO (an
 * entry is a struct so that each can say later which rights a peer needs for
 * it). fn NULL: the frame is answered BAY_EPROTO. The HELLO entry, when set,
 * runs after conn.c accepted the HELLO. */
typedef struct conn_rule {
    void (*fn)(broker *b, conn *c, const bay__frame *f);
    bay__role need; /* a host's frame: the role it needs (refused BAY_EPERM below it) */
} conn_rule;

/* The frames each role may send (b->dispatch, set by loop.c, which knows
 * the modules that handle them). A host's COMMAND bye is conn.c's own. */
struct conn_dispatch {
    conn_rule host[BAY_F_TYPE_MAX + 1];
    conn_rule worker[BAY_F_TYPE_MAX + 1];
};

/* A connection inside plugbayd (a console session, console.h) has no
 * socket: what plugbayd sends it goes to deliver, on the broker's thread,
 * which takes msg (one packed frame); its frames come in through
 * conn_queue_push. */
typedef struct conn_local {
    void (*deliver)(void *data, uint64_t session, nng_msg *msg);
} conn_local;

int conn_listen_public(broker *b);
/* conn_open opens a connection socket for a peer (its rendezvous key, 0 for
 * a worker) and writes the url it listens on. Over ipc only peer_pid may dial
 * it (0: any pid that is no worker's); a worker's, only that worker. */
conn *conn_open(broker *b, conn_role role, uint64_t peer, pid_t peer_pid, char *url, size_t urllen);
/* conn_open_local opens a connection inside plugbayd, past its HELLO, as
 * host name, with the rights and grants (copied; NULL: unlimited) of local
 * user uid, subscribed to notices; what plugbayd sends it goes to
 * local->deliver with data. NULL when out of memory. conn_let_go ends it. */
conn *conn_open_local(broker *b, const char *name, bay__role rights, char *const *grants, int64_t uid,
                      const conn_local *local, void *data);
/* conn_queue_push hands msg, a frame from connection session's peer, to the
 * broker's thread through q (any thread; takes msg). false when out of
 * memory (msg is freed then). */
bool conn_queue_push(struct broker_queue *q, uint64_t session, nng_msg *msg);
conn *conn_get(broker *b, uint64_t session);
/* conn_snapshot returns every connection (the caller frees the array). */
conn **conn_snapshot(broker *b, size_t *n);
/* conn_close lets go of c: it leaves the broker's tables at once and its
 * socket is closed on another thread once the peer has gone (the peer was
 * told why in an ERROR frame, or its worker was stopped). Never blocks. */
void conn_close(broker *b, conn *c);
/* conn_who names host c, past its HELLO, for messages and the audit:
 * "host:NAME (uid U, role R)" ("host:NAME (role R)" over tls+tcp, "host:NAME
 * (key HOST KEYID, role R)" once it proved a key). Borrowed. */
const char *conn_who(const conn *c);
/* conn_may tells whether host c may use extension point name for what
 * ("call", "provide"): always for an admin, within its grants for a host an
 * admin added with role host. */
bool conn_may(const conn *c, const char *what, const char *name);
/* conn_let_go ends host c's connection at plugbayd's wish: it is told why in
 * an ERROR (code, answering request id; 0 for none), then goes as if it had
 * left (host-gone listeners). */
void conn_let_go(broker *b, conn *c, uint64_t id, int code, const char *why);
/* conn_lingering counts the connections let go whose peer (rendezvous key
 * peer) keeps them open, and the handshakes it has pending (a host under
 * --remote-role none that has not proved a key counts as one). */
size_t conn_lingering(broker *b, uint64_t peer);
/* conn_on_host_gone has fn called when a host's connection goes away, after
 * those registered before it (at most LISTENERS_MAX). */
void conn_on_host_gone(broker *b, host_gone_fn fn);
/* conn_queue_init makes the queue through which NNG's threads hand frames to
 * the broker's thread (b->queue; its wake_fd turns readable): 0 or BAY_EIO. */
int conn_queue_init(broker *b);
/* conn_drain handles what NNG's threads queued: rendezvous requests, frames,
 * peers that left. */
void conn_drain(broker *b);
/* conn_queue_free closes the queue and drops what is left in it (at exit). */
void conn_queue_free(broker *b);
int conn_send(broker *b, conn *c, const bay__frame *f);
void conn_send_error(broker *b, conn *c, uint64_t id, int code, const char *plugin, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void conn_send_value(broker *b, conn *c, uint64_t id, const bay_value *v);
void conn_expire_handshakes(broker *b, int64_t now);
/* conn_close_all lets go of every connection at shutdown and closes the
 * sockets whose peers have gone; a socket a peer still holds is left to the
 * process's exit (closing it could wedge NNG). sockets_settled tells whether
 * the closing finished in time. */
void conn_close_all(broker *b);

#endif
