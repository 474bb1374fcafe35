/* protocol/wire.h — plugbay frames over NNG: sockets, send, receive, handshake. */
#ifndef BAY_WIRE_H
#define BAY_WIRE_H

#include <nng/nng.h>

#include <plugbay/error.h>

#include "frame.h"

/* bay__from_nng maps an NNG error to the closest bay_errno code. */
int bay__from_nng(int nng_rv);

/* bay__wire_open opens a pair1 socket with plugbay's limits (largest frame,
 * send buffer). Returns 0 or a bay_errno code. */
int bay__wire_open(nng_socket *s);

/* bay__wire_msg encodes f into a new NNG message the caller owns. */
int bay__wire_msg(const bay__frame *f, nng_msg **out);

/* bay__wire_sendmsg sends m on s as nng_sendmsg does (flags 0 or
 * NNG_FLAG_NONBLOCK; m is the socket's on success, still the caller's on
 * failure; returns NNG's error), through an aio kept for the calling thread:
 * NNG 1.5.2's nng_sendmsg and nng_recvmsg allocate one per message, each
 * drawing a random number from the kernel (getrandom). */
int bay__wire_sendmsg(nng_socket s, nng_msg *m, int flags);

/* bay__wire_recvmsg receives a message on s into *m as nng_recvmsg does
 * (blocking up to the socket's receive timeout), through the calling
 * thread's aio; returns NNG's error. */
int bay__wire_recvmsg(nng_socket s, nng_msg **m);

/* bay__wire_send encodes f and sends it on s with NNG flags (0 or
 * NNG_FLAG_NONBLOCK). Returns 0, BAY_EBUSY when a non-blocking send would
 * block, BAY_ECONN when the socket is closed, or another code. */
int bay__wire_send(nng_socket s, const bay__frame *f, int flags);

/* bay__wire_send_error sends an ERROR frame answering id without blocking.
 * plugin may be NULL. Returns what bay__wire_send returns. */
int bay__wire_send_error(nng_socket s, uint64_t id, int code, const char *plugin, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* bay__wire_recv waits up to timeout_ms (-1 = forever) for one frame on s and
 * decodes it into f, keeping the message in *msg (free it with nng_msg_free
 * after bay__frame_release). On a decode failure returns its code with the
 * reason in err, and *msg is NULL. */
int bay__wire_recv(nng_socket s, int timeout_ms, nng_msg **msg, bay__frame *f, bay_error *err);

/* bay__wire_connect dials the pair1 endpoint url, sends HELLO (role, name,
 * token) and waits up to timeout_ms for WELCOME. On success *out is the open
 * socket (the caller closes it with nng_close) and *session, when not NULL,
 * the broker's session number. */
int bay__wire_connect(const char *url, const char *role, const char *name, const char *token, int timeout_ms,
                     nng_socket *out, int64_t *session, bay_error *err);

/* bay__wire_auth proves, on the connection s just opened with token (whose
 * HELLO said name), that this host holds the secret key in the file
 * key_path: it sends COMMAND auth with the public key and its signature of
 * the token and name (protocol/key.h) and waits up to timeout_ms for the
 * answer. Returns 0, or the key file's error (BAY_EPERM when others can read
 * it, BAY_EINVAL when it is no secret key, BAY_EIO) or plugbayd's refusal
 * (BAY_EPERM for a key it does not list) with err. */
int bay__wire_auth(nng_socket s, const char *url, const char *name, const char *token, const char *key_path,
                   int timeout_ms, bay_error *err);

/* bay__wire_rendezvous asks the broker listening at url (req/rep) for a
 * connection of its own: it sends HELLO and receives WELCOME with the
 * connection's pair1 url and token, both new strings the caller frees. */
int bay__wire_rendezvous(const char *url, const char *role, const char *name, int timeout_ms, char **pair_url,
                        char **token, bay_error *err);

#endif
