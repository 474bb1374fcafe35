/* plugbay/plugbay.h — the host API: connect to plugbayd, declare, provide and
 * call extension points, watch the registry, and run lifecycle commands.
 *
 * Threads: a bay_conn may be used from several threads at once. Provider
 * handlers and notice callbacks run on one dispatch thread owned by the
 * connection; they may call back into the broker through the same connection. */
#ifndef PLUGBAY_PLUGBAY_H
#define PLUGBAY_PLUGBAY_H

#include <plugbay/error.h>
#include <plugbay/value.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol version this library speaks (see docs/protocol.md). */
#define BAY_PROTOCOL_VERSION 1

/* Default call deadline in milliseconds, used when bay_call_opts is NULL or its
 * timeout_ms is 0. */
#define BAY_DEFAULT_TIMEOUT_MS 5000

typedef struct bay_conn bay_conn;
typedef struct bay_pending bay_pending;
typedef struct bay_reply bay_reply;
typedef struct bay_stream bay_stream;

/* Kinds of extension point. */
typedef enum bay_kind {
    BAY_HANDLE = 1, /* the first provider in load order whose context matches serves the call */
    BAY_EVENT = 2,  /* every matching provider is called, in load order; results gathered */
    BAY_FILTER = 3, /* every matching provider is called, in load order, with the arguments the one
                     * before it passed on; any of them may stop the chain with an error */
} bay_kind;

/* Per-call options; pass NULL for defaults. */
typedef struct bay_call_opts {
    int timeout_ms;      /* deadline from now; 0 = BAY_DEFAULT_TIMEOUT_MS */
    const char *context; /* only providers declaring this context (or none) see the call; NULL = all */
} bay_call_opts;

/* bay_connect connects to the broker at url ("ipc:///path", "tls+tcp://host:port"
 * with $PLUGBAY_TLS_CERT, $PLUGBAY_TLS_CA and optionally $PLUGBAY_TLS_SERVER_NAME)
 * and performs the versioned handshake; name identifies this host in the
 * broker's log. On success *out is a connection the caller closes with
 * bay_close(). NULL url means $PLUGBAY_BROKER, else the user's own plugbayd
 * (ipc://$XDG_RUNTIME_DIR/plugbay/plugbayd.sock) when that socket exists, else
 * the system's (ipc:///run/plugbay/plugbayd.sock). */
int bay_connect(const char *url, const char *name, bay_conn **out, bay_error *err);

/* bay_close closes the connection: it says goodbye to plugbayd (waiting up
 * to 2 s for the answer), pending calls fail with BAY_ECONN (on a fast
 * channel too, cancelled at the worker), the extension
 * points this host provides are withdrawn. Waits for a running handler to
 * return. NULL is ignored. */
void bay_close(bay_conn *c);

/* bay_declare declares extension point name of the given kind. Declaring the
 * same name with the same kind again succeeds; another kind is BAY_EKIND. */
int bay_declare(bay_conn *c, const char *name, bay_kind kind, bay_error *err);

/* bay_declare_typed declares extension point name of kind with its types:
 * types is JSON text {"args": SCHEMA, "result": SCHEMA, "input": SCHEMA}
 * (each may be left out), each SCHEMA in the JSON Schema subset
 * docs/types.md describes. plugbayd then checks every call's arguments,
 * every provider's result and the chunks of an upload's input against them
 * (unless started with --check-types off). Declaring again with
 * the same types succeeds; types that differ from those already declared,
 * by this host or a provider's manifest, are BAY_ETYPE naming where; types
 * that are not JSON or not such schemas are BAY_EINVAL. */
int bay_declare_typed(bay_conn *c, const char *name, bay_kind kind, const char *types, bay_error *err);

/* A host-side provider. args is borrowed for the duration of the call; on
 * success store a new value in *result (ownership passes to the library; NULL
 * means nil) and return 0; on failure return a code and, optionally, fill err. */
typedef int (*bay_handler)(const bay_value *args, bay_value **result, bay_error *err, void *user);

/* bay_provide makes this host a provider of extension point name (declaring it
 * with kind if nobody has). contexts is a NULL-terminated list of contexts the
 * provider accepts, or NULL for all. fn runs on the connection's dispatch
 * thread with user. */
int bay_provide(bay_conn *c, const char *name, bay_kind kind, const char *const *contexts,
                bay_handler fn, void *user, bay_error *err);

/* A host-side provider that answers later. It runs on the dispatch thread
 * with args borrowed for its duration (copy what it keeps) and reply, which
 * it owns: it answers, now or later and from any thread, with exactly one
 * bay_reply_value() or bay_reply_error(), which free reply. It returns at
 * once, so the dispatch thread goes on to the next call: several calls may
 * be unanswered at a time. */
typedef void (*bay_async_handler)(const bay_value *args, bay_reply *reply, void *user);

/* bay_provide_async makes this host a provider of name as bay_provide does,
 * with fn answering through its reply instead of its return. */
int bay_provide_async(bay_conn *c, const char *name, bay_kind kind, const char *const *contexts,
                      bay_async_handler fn, void *user, bay_error *err);

/* bay_reply_value answers reply's call with value (taken, freed here; NULL
 * means nil) and frees reply. Returns 0, BAY_ECONN when the connection is
 * closed or lost (nobody waits any more), or why the value could not be sent
 * (the caller then gets that error). */
int bay_reply_value(bay_reply *reply, bay_value *value);

/* bay_reply_error fails reply's call with code (a positive bay_errno; any
 * other is BAY_EPLUGIN) and a printf-style message, naming this host, and
 * frees reply. Returns 0 or BAY_ECONN as bay_reply_value does. */
int bay_reply_error(bay_reply *reply, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* bay_reply_cancelled returns 0 while reply's caller still waits, else why it
 * stopped: BAY_ECANCELED (cancelled, or the connection closed) or
 * BAY_ETIMEDOUT (its deadline passed). The reply must be answered all the
 * same; the answer is then dropped. */
int bay_reply_cancelled(const bay_reply *reply);

/* bay_call calls extension point name with args (borrowed; NULL means an
 * empty array) and waits for the result or the deadline. On success *result is
 * a new value the caller frees (result may be NULL: the outcome alone). For a handle it is the provider's result; for
 * an event, an array with one map per provider in load order: {"plugin": id,
 * "value": v} or {"plugin": id, "error": {"code": n, "name": s, "message": s}}; for a filter, the arguments
 * (an array) its last provider passed on, and the error of the first provider that failed, if one did.
 * Args nesting arrays and maps deeper than 31 levels (args itself is the
 * first) are refused with BAY_EINVAL before anything is sent. */
int bay_call(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts,
             bay_value **result, bay_error *err);

/* bay_call_async starts a call and returns at once with *out, a pending call
 * the caller waits on with bay_pending_wait() and frees with bay_pending_free(). */
int bay_call_async(bay_conn *c, const char *name, const bay_value *args,
                   const bay_call_opts *opts, bay_pending **out, bay_error *err);

/* bay_pending_wait waits up to wait_ms (-1 = until the call ends) for the
 * call's outcome. Returns BAY_EPENDING without consuming anything when the
 * wait ends first (the call itself goes on until its own deadline); otherwise
 * the call's outcome as bay_call() gives it. The outcome is given once. */
int bay_pending_wait(bay_pending *p, int wait_ms, bay_value **result, bay_error *err);

/* bay_pending_cancel asks the broker to cancel the call; the plugin sees the
 * cancel (bay_call_cancelled()) and the call ends with BAY_ECANCELED unless
 * its result was already on the way. */
int bay_pending_cancel(bay_pending *p);

/* bay_pending_free cancels the call if it is still running and frees p. */
void bay_pending_free(bay_pending *p);

/* Streams. A provider may answer a handle with a stream of chunks
 * (bay_call_emit in a plugin, plugbay.emit in Lua and Python, a generator in
 * Python), then an end or an error. A stream's reader holds at most this many
 * chunks it has not taken; past them the provider waits (back-pressure). */
#define BAY_STREAM_WINDOW 64

/* bay_call_stream starts a call of handle name whose answer is read as a
 * stream, chunk by chunk, with bay_stream_next(); the caller frees *out with
 * bay_stream_free(). The call's deadline (opts->timeout_ms) and a cancel
 * cover the whole stream. A provider that does not stream answers with one
 * chunk: its result (none when nil). The stream takes a fast channel where
 * bay_call would (docs/fastpath.md#streams), and holds it until its answer
 * was read or it is freed; the host's other calls to that plugin go through
 * plugbayd meanwhile. Same errors as bay_call_async. */
int bay_call_stream(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_stream **out,
                    bay_error *err);

/* bay_call_upload starts a call of handle name as bay_call_stream does, whose
 * caller also streams its input to the provider: chunks with
 * bay_stream_send(), then bay_stream_send_end(); the provider takes them
 * with bay_call_receive (plugin.h). The answer is read with
 * bay_stream_next(), during the upload or after it. An upload takes a fast
 * channel where bay_call_stream would, and writes its input to the ring too. */
int bay_call_upload(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_stream **out,
                    bay_error *err);

/* bay_stream_send sends chunk (borrowed) as the next piece of an upload's
 * input, waiting up to wait_ms (-1: the call's deadline) while the provider
 * has not taken the BAY_STREAM_WINDOW chunks before it (on a fast channel:
 * while the ring to it is full; back-pressure): 0;
 * BAY_EPENDING when the wait ended first (send it again later); BAY_ESTATE
 * when the call already ended (bay_stream_next says how); BAY_EINVAL for a
 * stream without input, or after bay_stream_send_end. */
int bay_stream_send(bay_stream *s, const bay_value *chunk, int wait_ms, bay_error *err);

/* bay_stream_send_end ends an upload's input: the provider's
 * bay_call_receive then gives the end. Once only (BAY_EINVAL after). */
int bay_stream_send_end(bay_stream *s, bay_error *err);

/* bay_stream_next waits up to wait_ms (-1: until the stream's deadline) for
 * the next chunk: 0 with *chunk a new value the caller frees; 0 with *chunk
 * NULL once the stream ended (again on every later call); BAY_EPENDING when
 * no chunk came within wait_ms (the stream goes on); else the error that
 * ended the stream (the provider's, BAY_ETIMEDOUT at its deadline,
 * BAY_ECANCELED, BAY_ECONN), after every chunk that came before it. */
int bay_stream_next(bay_stream *s, int wait_ms, bay_value **chunk, bay_error *err);

/* bay_stream_cancel asks plugbayd to stop the stream: the provider's
 * bay_call_emit returns BAY_ECANCELED, and bay_stream_next then gives
 * BAY_ECANCELED after the chunks already received. On a fast channel the
 * stream ends at once: a bay_stream_next waiting on another thread returns
 * BAY_ECANCELED within 10 ms, and the provider is told by that call (or the
 * next one, or bay_stream_free). */
int bay_stream_cancel(bay_stream *s);

/* bay_stream_free abandons the stream when it still runs (the provider is
 * told to stop, as by bay_stream_cancel), frees its chunks not taken and s. */
void bay_stream_free(bay_stream *s);

/* A registry change notice, valid only during the callback. */
typedef struct bay_notice {
    const char *what;   /* "declared", "provider-added", "provider-removed", "provider-moved", "plugin-state" */
    const char *name;   /* extension point, or "" */
    const char *plugin; /* plugin id (or "host:NAME"), or "" */
    const char *state;  /* for "plugin-state": the new state ("loaded", "failed", ...), else "" */
    const char *reason; /* why (e.g. the crash), or "" */
} bay_notice;

typedef void (*bay_notice_fn)(const bay_notice *n, void *user);

/* bay_subscribe delivers every later registry change to fn on the dispatch
 * thread. Passing NULL fn unsubscribes. */
int bay_subscribe(bay_conn *c, bay_notice_fn fn, void *user, bay_error *err);

/* bay_command runs a broker command: "list", "info", "install", "uninstall",
 * "enable", "disable", "load", "unload", "reload", "status" (see
 * docs/cli.md for each one's arguments). args is borrowed (a map, or NULL);
 * on success *result, when result is not NULL, is a new value the caller frees. */
int bay_command(bay_conn *c, const char *command, const bay_value *args, int timeout_ms,
                bay_value **result, bay_error *err);

/* bay_panels lists the panels of plugins' own user interfaces (a manifest's
 * "ui", docs/manifest.md#ui) of every installed plugin, for a host to embed
 * them in its own window. locale (NULL: none) chooses the titles' language
 * ("fr_FR", "fr", falling back to each manifest's default). On success *out
 * is a new array the caller frees, of maps {"plugin": ID, "panel": NAME,
 * "title": TEXT, "url": "/p/CAP/FILE" on plugbayd's web console, or nil when
 * it serves none}. Needs role observer; a panel's page talks to its plugin
 * through the host as docs/host-api.md#panels says. */
int bay_panels(bay_conn *c, const char *locale, bay_value **out, bay_error *err);

#ifdef __cplusplus
}
#endif
#endif
