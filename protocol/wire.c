/* protocol/wire.c — plugbay frames over NNG: sockets, send, receive, handshake. */
#include "wire.h"

#include <plugbay/value.h>

#include "key.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/protocol/reqrep0/req.h>

int bay__from_nng(int rv)
{
    switch (rv) {
    case 0: return 0;
    case NNG_ENOMEM: return BAY_ENOMEM;
    case NNG_ETIMEDOUT: return BAY_ETIMEDOUT;
    case NNG_EAGAIN: return BAY_EBUSY;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP: return BAY_EINVAL;
    case NNG_EPERM: return BAY_EPERM;
    case NNG_ECANCELED: return BAY_ECANCELED;
    case NNG_EMSGSIZE: return BAY_EPROTO;
    default: return BAY_ECONN;
    }
}

int bay__wire_open(nng_socket *s)
{
    int rv = nng_pair1_open(s);
    if (rv == 0 && ((rv = nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, BAY_FRAME_MAX)) != 0 ||
                    (rv = nng_socket_set_int(*s, NNG_OPT_SENDBUF, 8192)) != 0 ||
                    (rv = nng_socket_set_int(*s, NNG_OPT_RECVBUF, 8192)) != 0))
        nng_close(*s);
    return bay__from_nng(rv);
}

/* The calling thread's aio for bay__wire_sendmsg and bay__wire_recvmsg, freed when the thread ends. */
static pthread_key_t aio_key;
static pthread_once_t aio_once = PTHREAD_ONCE_INIT;

static void aio_free(void *aio)
{
    nng_aio_free(aio);
}

static void aio_key_make(void)
{
    pthread_key_create(&aio_key, aio_free);
}

/* thread_aio returns the calling thread's aio, made at its first use; NULL when out of memory. */
static nng_aio *thread_aio(void)
{
    pthread_once(&aio_once, aio_key_make);
    nng_aio *aio = pthread_getspecific(aio_key);
    if (aio == NULL && nng_aio_alloc(&aio, NULL, NULL) == 0 && pthread_setspecific(aio_key, aio) != 0) {
        nng_aio_free(aio);
        aio = NULL;
    }
    return aio;
}

/* thread_io sends *m on s (send) or receives a message into *m, through the
 * calling thread's aio, waiting up to timeout: NNG's error. */
static int thread_io(nng_socket s, bool send, nng_duration timeout, nng_msg **m)
{
    nng_aio *aio = thread_aio();
    if (aio == NULL)
        return NNG_ENOMEM;
    nng_aio_set_timeout(aio, timeout);
    nng_aio_set_msg(aio, send ? *m : NULL);
    if (send)
        nng_send_aio(s, aio);
    else
        nng_recv_aio(s, aio);
    nng_aio_wait(aio);
    int rv = nng_aio_result(aio);
    if (!send)
        *m = rv == 0 ? nng_aio_get_msg(aio) : NULL;
    nng_aio_set_msg(aio, NULL);
    return rv;
}

int bay__wire_sendmsg(nng_socket s, nng_msg *m, int flags)
{
    return thread_io(s, true, flags & NNG_FLAG_NONBLOCK ? NNG_DURATION_ZERO : NNG_DURATION_DEFAULT, &m);
}

int bay__wire_recvmsg(nng_socket s, nng_msg **m)
{
    return thread_io(s, false, NNG_DURATION_DEFAULT, m);
}

static int msg_sink(void *data, const char *buf, size_t len)
{
    return nng_msg_append(data, buf, len) == 0 ? 0 : -1;
}

int bay__wire_msg(const bay__frame *f, nng_msg **out)
{
    nng_msg *m;
    if (nng_msg_alloc(&m, 0) != 0)
        return BAY_ENOMEM;
    int rc = bay__frame_encode(f, msg_sink, m);
    if (rc) {
        nng_msg_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int bay__wire_send(nng_socket s, const bay__frame *f, int flags)
{
    nng_msg *m;
    int rc = bay__wire_msg(f, &m);
    if (rc)
        return rc;
    int rv = bay__wire_sendmsg(s, m, flags);
    if (rv)
        nng_msg_free(m);
    return bay__from_nng(rv);
}

int bay__wire_send_error(nng_socket s, uint64_t id, int code, const char *plugin, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bay__frame f = {.type = BAY_F_ERROR, .id = id, .code = code, .plugin = plugin, .message = text};
    return bay__wire_send(s, &f, NNG_FLAG_NONBLOCK);
}

int bay__wire_recv(nng_socket s, int timeout_ms, nng_msg **msg, bay__frame *f, bay_error *err)
{
    *msg = NULL;
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms);
    nng_msg *m;
    int rv = bay__wire_recvmsg(s, &m);
    if (rv)
        return bay_error_set(err, bay__from_nng(rv), NULL, "receiving from the broker: %s", nng_strerror(rv));
    int rc = bay__frame_decode(nng_msg_body(m), nng_msg_len(m), f, err);
    if (rc) {
        nng_msg_free(m);
        return rc;
    }
    *msg = m;
    return 0;
}

/* expect_welcome waits for the WELCOME answering a HELLO and copies out what
 * the caller wants; an ERROR frame becomes the returned error. */
static int expect_welcome(nng_socket s, const char *url, int timeout_ms, int64_t *session, char **pair_url,
                          char **token, bay_error *err)
{
    nng_msg *m;
    bay__frame f;
    int rc = bay__wire_recv(s, timeout_ms, &m, &f, err);
    if (rc == BAY_ETIMEDOUT)
        return bay_error_set(err, rc, NULL, "plugbayd at %s did not answer the handshake within %d ms", url,
                             timeout_ms);
    if (rc)
        return rc;
    if (f.type == BAY_F_ERROR) {
        rc = bay_error_set(err, (int)f.code, f.plugin, "plugbayd at %s refused the handshake: %s", url, f.message);
    } else if (f.type != BAY_F_WELCOME) {
        rc = bay_error_set(err, BAY_EPROTO, NULL, "plugbayd at %s answered HELLO with %s instead of WELCOME", url,
                           bay__frame_type_name(f.type));
    } else {
        if (session)
            *session = f.session;
        if (pair_url && token) {
            *pair_url = f.url ? strdup(f.url) : NULL;
            *token = f.token ? strdup(f.token) : NULL;
            if (!*pair_url || !*token) {
                free(*pair_url);
                free(*token);
                rc = bay_error_set(err, BAY_EPROTO, NULL, "plugbayd at %s sent a WELCOME without url and token",
                                   url);
            }
        }
    }
    bay__frame_release(&f);
    nng_msg_free(m);
    return rc;
}

static int send_hello(nng_socket s, const char *url, const char *role, const char *name, const char *token,
                      bay_error *err)
{
    bay__frame hello = {.type = BAY_F_HELLO, .role = role, .name = name, .pid = getpid(), .token = token};
    int rc = bay__wire_send(s, &hello, 0);
    return rc ? bay_error_set(err, rc, NULL, "sending HELLO to plugbayd at %s: %s", url, bay_strerror(rc)) : 0;
}

/* tls_dialer sets up dialer d of a tls+tcp:// url: this host shows the
 * certificate and key in $PLUGBAY_TLS_CERT; plugbayd's certificate must chain
 * to $PLUGBAY_TLS_CA and name $PLUGBAY_TLS_SERVER_NAME (default: the url's
 * host). Returns 0 or a bay_errno code with err. */
static int tls_dialer(nng_dialer d, const char *url, bay_error *err)
{
    const char *ca = getenv("PLUGBAY_TLS_CA"), *name = getenv("PLUGBAY_TLS_SERVER_NAME");
    if (ca == NULL || *ca == '\0')
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "%s: set PLUGBAY_TLS_CA to the file of the certificate authority that signed plugbayd's "
                             "certificate (docs/remote-hosts.md)",
                             url);
    char host[256];
    const char *h = url + strlen("tls+tcp://"), *colon = strrchr(h, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon ? colon - h : (ptrdiff_t)strlen(h)), h);
    const char *cert = getenv("PLUGBAY_TLS_CERT");
    if (cert == NULL || *cert == '\0')
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "%s: set PLUGBAY_TLS_CERT to the file of this host's certificate and private key, signed "
                             "by the authority plugbayd trusts (docs/remote-hosts.md)",
                             url);
    int rv = nng_dialer_set_string(d, NNG_OPT_TLS_CA_FILE, ca);
    if (rv == 0 && (rv = nng_dialer_set_string(d, NNG_OPT_TLS_CERT_KEY_FILE, cert)) != 0)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: PLUGBAY_TLS_CERT %s: %s", url, cert, nng_strerror(rv));
    if (rv == 0)
        rv = nng_dialer_set_string(d, NNG_OPT_TLS_SERVER_NAME, name && *name ? name : host);
    if (rv == 0)
        rv = nng_dialer_set_int(d, NNG_OPT_TLS_AUTH_MODE, NNG_TLS_AUTH_MODE_REQUIRED);
    return rv ? bay_error_set(err, BAY_EINVAL, NULL, "%s: PLUGBAY_TLS_CA %s: %s", url, ca, nng_strerror(rv)) : 0;
}

static int dial(nng_socket s, const char *url, bay_error *err)
{
    nng_dialer d;
    int rv = nng_dialer_create(&d, s, url);
    if (rv == 0 && strncmp(url, "tls+tcp://", 10) == 0) {
        int rc = tls_dialer(d, url, err);
        if (rc)
            return rc;
    }
    if (rv == 0)
        rv = nng_dialer_start(d, 0);
    /* plugbayd refusing the handshake may end the connection before the client's TLS sees why: closed or shut. */
    bool tls = strncmp(url, "tls+", 4) == 0;
    if (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH || (tls && (rv == NNG_ECLOSED || rv == NNG_ECONNSHUT)))
        return bay_error_set(err, BAY_ECONN, NULL,
                             "cannot connect to plugbayd at %s: the TLS handshake failed (%s): plugbayd's "
                             "certificate must chain to PLUGBAY_TLS_CA and name the host (PLUGBAY_TLS_SERVER_NAME), "
                             "and this host's (PLUGBAY_TLS_CERT) to the authority plugbayd trusts",
                             url, nng_strerror(rv));
    if (rv)
        return bay_error_set(err, bay__from_nng(rv) == BAY_EINVAL ? BAY_EINVAL : BAY_ECONN, NULL,
                             "cannot connect to plugbayd at %s: %s; is plugbayd running there (plugbayd --listen %s)?",
                             url, nng_strerror(rv), url);
    return 0;
}

int bay__wire_connect(const char *url, const char *role, const char *name, const char *token, int timeout_ms,
                     nng_socket *out, int64_t *session, bay_error *err)
{
    nng_socket s;
    int rc = bay__wire_open(&s);
    if (rc)
        return bay_error_set(err, rc, NULL, "opening an NNG socket: %s", bay_strerror(rc));
    if ((rc = dial(s, url, err)) == 0 && (rc = send_hello(s, url, role, name, token, err)) == 0)
        rc = expect_welcome(s, url, timeout_ms, session, NULL, NULL, err);
    if (rc) {
        nng_close(s);
        return rc;
    }
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, NNG_DURATION_INFINITE);
    *out = s;
    return 0;
}

/* auth_frame packs {"key": pk, "signature": sig} into *raw (the caller frees it) for COMMAND auth. */
static int auth_frame(const unsigned char *pk, const unsigned char *sig, void **raw, size_t *len)
{
    bay_value *args = bay_map();
    int rc = args && bay_map_set(args, "key", bay_bin(pk, BAY_KEY_PUBLIC_BYTES)) == 0 &&
                     bay_map_set(args, "signature", bay_bin(sig, BAY_KEY_SIGNATURE_BYTES)) == 0
                 ? bay_value_pack(args, raw, len)
                 : BAY_ENOMEM;
    bay_value_free(args);
    return rc;
}

int bay__wire_auth(nng_socket s, const char *url, const char *name, const char *token, const char *key_path,
                   int timeout_ms, bay_error *err)
{
    unsigned char sk[BAY_KEY_SECRET_BYTES], sig[BAY_KEY_SIGNATURE_BYTES], pk[BAY_KEY_PUBLIC_BYTES];
    char id[BAY_KEY_ID_SIZE];
    void *raw = NULL;
    size_t len = 0;
    bay_error e;
    int rc = bay__key_init(&e);
    if (rc == 0)
        rc = bay__key_read_secret(key_path, sk, &e);
    if (rc)
        return bay_error_set(err, rc, NULL, "PLUGBAY_KEY: %s", e.message);
    memcpy(pk, sk + BAY_KEY_SECRET_BYTES - BAY_KEY_PUBLIC_BYTES, sizeof pk); /* libsodium's secret key ends with it */
    bay__key_sign_auth(sk, token, name, sig);
    sodium_memzero(sk, sizeof sk);
    bay__key_id(pk, id);
    if ((rc = auth_frame(pk, sig, &raw, &len)) == 0)
        rc = bay__wire_send(s, &(bay__frame){.type = BAY_F_COMMAND, .id = 1, .name = "auth", .raw = raw, .raw_len = len},
                            0);
    free(raw);
    if (rc)
        return bay_error_set(err, rc, NULL, "sending key %s to plugbayd at %s: %s", id, url, bay_strerror(rc));
    nng_msg *m;
    bay__frame f;
    if ((rc = bay__wire_recv(s, timeout_ms, &m, &f, &e)) != 0)
        return bay_error_set(err, rc, NULL, "plugbayd at %s did not answer key %s: %s", url, id, e.message);
    if (f.type == BAY_F_ERROR)
        rc = bay_error_set(err, (int)f.code, NULL, "plugbayd at %s refused key %s (PLUGBAY_KEY=%s): %s", url, id,
                           key_path, f.message);
    else if (f.type != BAY_F_RESULT)
        rc = bay_error_set(err, BAY_EPROTO, NULL, "plugbayd at %s answered key %s with %s instead of RESULT", url, id,
                           bay__frame_type_name(f.type));
    bay__frame_release(&f);
    nng_msg_free(m);
    return rc;
}

int bay__wire_rendezvous(const char *url, const char *role, const char *name, int timeout_ms, char **pair_url,
                        char **token, bay_error *err)
{
    nng_socket s;
    int rv = nng_req0_open(&s);
    if (rv)
        return bay_error_set(err, bay__from_nng(rv), NULL, "opening an NNG socket: %s", nng_strerror(rv));
    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, BAY_FRAME_MAX);
    int rc = dial(s, url, err);
    if (rc == 0 && (rc = send_hello(s, url, role, name, NULL, err)) == 0)
        rc = expect_welcome(s, url, timeout_ms, NULL, pair_url, token, err);
    nng_close(s);
    return rc;
}
