/* protocol/frame.h — plugbay frames: one msgpack array [version, type, id, fields...].
 *
 * The layout of every frame type is one row of a table in frame.c and is
 * described for humans in docs/protocol.md. The same bytes travel over NNG or
 * any other transport; nothing here knows about NNG. */
#ifndef BAY_FRAME_H
#define BAY_FRAME_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

/* The protocol version spoken by this build. Peers with another version get an
 * ERROR frame (whose layout never changes) naming both versions. */
#define BAY_WIRE_VERSION 1

/* Lines of one plugin's output and LOG frames that reach plugbayd's log per
 * window; the rest are counted and dropped (the worker drops its own first,
 * plugbayd again for what a native plugin sends past it). */
#define BAY_LOG_LINES_MAX 1000
#define BAY_LOG_LINES_WINDOW_MS 10000

/* How long past a call's deadline a caller (a host, or a plugin calling
 * through its worker) waits for plugbayd's own answer, which names the plugin
 * that failed, before giving up by itself. */
#define BAY_CALL_GRACE_MS 1000

/* Largest frame accepted from a peer. */
#define BAY_FRAME_MAX (16u * 1024u * 1024u)

typedef enum bay__frame_type {
    BAY_F_HELLO = 1,     /* role, name, pid, token|nil */
    BAY_F_WELCOME = 2,   /* name (broker version), session, url|nil, token|nil */
    BAY_F_ERROR = 3,     /* code, plugin|nil, message */
    BAY_F_DECLARE = 4,   /* name, kind */
    BAY_F_PROVIDE = 5,   /* name, kind, contexts|nil */
    BAY_F_CALL = 6,      /* name, value (args array), timeout_ms, context|nil[, window[, input]] (window: the caller
                          * reads the answer as a stream and takes that many CHUNKs before it sends CREDIT; input
                          * 1: the caller sends its input as CHUNKs, then END; absent: 0) */
    BAY_F_RESULT = 7,    /* value */
    BAY_F_EVENT = 8,     /* name, value (args array), context|nil — fire and forget */
    BAY_F_CANCEL = 9,    /* code: why (BAY_ECANCELED: cancelled; BAY_ETIMEDOUT: deadline) (id names the call) */
    BAY_F_HEARTBEAT = 10,/* busy_ms (id is the sequence number) */
    BAY_F_COMMAND = 11,  /* name (command), value (args map|nil) */
    BAY_F_NOTICE = 12,   /* what, name, plugin, state, message (reason) */
    BAY_F_SUBSCRIBE = 13,/* on */
    BAY_F_LOG = 14,      /* level, message */
    BAY_F_WITHDRAW = 15, /* name — a host stops providing an extension point */
    BAY_F_CHUNK = 16,    /* value — one piece of a call's streamed answer, before its RESULT or ERROR (id names the call) */
    BAY_F_CREDIT = 17,   /* count — the reader of a stream takes count more CHUNKs (id names the call): the caller
                          * of its answer, or the provider of a call's input */
    BAY_F_END = 18,      /* (no field) — the caller's input to a call ended (id names the call) */
    BAY_F_TYPE_MAX = 18,
} bay__frame_type;

/* A frame. Which fields are meaningful depends on type (see the enum). When
 * decoding, strings are NUL-terminated copies and value points into the
 * decoded tree; both live until bay__frame_release() and, for value, as long
 * as the buffer that was decoded. When encoding, set the fields for the type;
 * value may instead be given as already-packed msgpack bytes in raw/raw_len. */
typedef struct bay__frame {
    int64_t version;
    int64_t type;
    uint64_t id;

    const char *role, *name, *kind, *token, *url, *context, *plugin, *message, *what, *state;
    int64_t pid, session, code, timeout_ms, busy_ms, level, window, input, count;
    bool on;
    const char *const *contexts;  /* NULL-terminated, or NULL for nil */
    const msgpack_object *value;  /* args / result / command args; NULL = nil */
    const void *raw;              /* encode only: packed value spliced in place of value */
    size_t raw_len;

    msgpack_unpacked unpacked_;   /* private: owns decoded storage */
    bool decoded_;
} bay__frame;

/* bay__frame_type_name returns "CALL", "RESULT", ... or "?" for an unknown type. */
const char *bay__frame_type_name(int64_t type);

/* bay__frame_decode decodes and validates one frame filling exactly buf/len.
 * On success (0) f must be released with bay__frame_release(). On failure
 * returns BAY_EPROTO (malformed, truncated, wrong field type, unknown type) or
 * BAY_EVERSION (another protocol version; f->version holds it), fills err
 * (when not NULL) with the code and reason, and fills f->id/f->type when they
 * could be read so the sender can be answered; f needs no release then. */
int bay__frame_decode(const void *buf, size_t len, bay__frame *f, bay_error *err);

/* bay__frame_release frees what decoding allocated. Safe on a zeroed frame. */
void bay__frame_release(bay__frame *f);

/* The sink that receives packed bytes; returns 0 on success, -1 on failure. */
typedef int (*bay__frame_sink)(void *data, const char *buf, size_t len);

/* bay__frame_encode packs f (version BAY_WIRE_VERSION unless f->version is set)
 * into sink. Returns 0, BAY_EINVAL for an unknown type or a missing required
 * string, or BAY_ENOMEM when the sink fails. */
int bay__frame_encode(const bay__frame *f, bay__frame_sink sink, void *data);

/* A buffer to pack a frame or a value into on the hot path: its first
 * BAY_SCRATCH_LOCAL bytes live where the buffer does (on its owner's stack),
 * so a small frame costs no allocation; more come from the heap. */
#define BAY_SCRATCH_LOCAL 1024
typedef struct bay__scratch {
    char *data;          /* local, or a malloc'ed buffer once it outgrew it */
    size_t size, alloc;
    char local[BAY_SCRATCH_LOCAL];
} bay__scratch;

/* bay__scratch_init empties s (which must not move while in use); bay__scratch_free frees what it allocated. */
void bay__scratch_init(bay__scratch *s);
void bay__scratch_free(bay__scratch *s);

/* bay__scratch_write appends len bytes of buf to the bay__scratch data: a
 * bay__frame_sink and a msgpack_packer_write. Returns 0, or -1 out of memory. */
int bay__scratch_write(void *data, const char *buf, size_t len);

/* bay__pack_str packs the NUL-terminated string s as a msgpack str. Returns 0 or -1 when pk's sink fails. */
int bay__pack_str(msgpack_packer *pk, const char *s);

/* bay__object_type_name names o's type as plugbay's values do: "nil", "bool", "int", "float", "str",
 * "bin", "array", "map" or "ext". */
const char *bay__object_type_name(const msgpack_object *o);

/* bay__kind_name returns "handle", "event" or "filter" for BAY_HANDLE, BAY_EVENT or BAY_FILTER, else "?". */
const char *bay__kind_name(int kind);

/* bay__kind_parse returns BAY_HANDLE, BAY_EVENT or BAY_FILTER for "handle", "event" or "filter", else 0. */
int bay__kind_parse(const char *s);

/* bay__kind_valid tells whether kind is BAY_HANDLE, BAY_EVENT or BAY_FILTER. */
bool bay__kind_valid(int kind);

#endif
