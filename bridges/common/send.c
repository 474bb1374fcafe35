/* bridges/common/send.c — the worker's state and how it answers: warnings, frames to the broker or a fast channel's host, a call's stop code. */
#include "send.h"

#include <stdarg.h>
#include <stdio.h>

#include "value_convert.h"
#include "wire.h"

bay__worker bay__w = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .id = "?",
};

void bay__worker_warn(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "plugbay-worker-%s %s: %s\n", bay__w.bridge ? bay__w.bridge->language : "?", bay__w.id, text);
}

/* send_frame sends f (its value, if any, packed in raw) to the broker (to
 * NULL, with NNG's flags) or to the host of fast channel to (a chunk of
 * stream's when stream is not NULL). */
static int send_frame(bay__chan *to, const bay__frame *f, int flags, const bay_invocation *stream)
{
    return to ? bay__w.fast_send(to, f, stream) : bay__wire_send(bay__w.sock, f, flags);
}

/* pack_and_send packs v (when not NULL) as f's value and sends f as send_frame does. */
static int pack_and_send(bay__chan *to, bay__frame *f, const bay_value *v, int flags, const bay_invocation *stream)
{
    bay__scratch sb;
    bay__scratch_init(&sb);
    int rc = 0;
    if (v) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, bay__scratch_write);
        rc = bay__value_pack_to(&pk, v);
        /* Leave room for the frame around the value: the broker closes a
         * connection that sends more than BAY_FRAME_MAX. */
        if (rc == 0 && sb.size > BAY_FRAME_MAX - 4096)
            rc = BAY_EINVAL;
        f->raw = sb.data;
        f->raw_len = sb.size;
    }
    if (rc == 0)
        rc = send_frame(to, f, flags, stream);
    bay__scratch_free(&sb);
    return rc;
}

int bay__worker_send(bay__chan *to, bay__frame *f, const bay_value *v)
{
    return pack_and_send(to, f, v, 0, NULL);
}

int bay__worker_send_chunk(const bay_invocation *call, bay__frame *f, const bay_value *v)
{
    return pack_and_send(call->chan, f, v, 0, call);
}

int bay__worker_tell(const char *name, const bay_value *args)
{
    bay__frame f = {.type = BAY_F_COMMAND, .name = name};
    return pack_and_send(NULL, &f, args, NNG_FLAG_NONBLOCK, NULL);
}

/* dropped tells whether an answer failed with rc because fast channel to was dropped: that said why already. */
static bool dropped(const bay__chan *to, int rc)
{
    return to && rc == BAY_ECONN;
}

int bay__worker_error(bay__chan *to, uint64_t id, int code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bay__frame f = {.type = BAY_F_ERROR, .id = id, .code = code, .plugin = bay__w.id, .message = text};
    int rc = send_frame(to, &f, NNG_FLAG_NONBLOCK, NULL);
    if (rc && !dropped(to, rc))
        bay__worker_warn("could not send ERROR %s for request %llu %s (%s): %s", bay_errname(code),
                        (unsigned long long)id, to ? "on a fast channel" : "to plugbayd", bay_strerror(rc), text);
    return code;
}

int bay__worker_result(bay__chan *to, uint64_t id, const bay_value *v)
{
    bay__frame f = {.type = BAY_F_RESULT, .id = id};
    int rc = bay__worker_send(to, &f, v);
    if (rc == BAY_EINVAL)
        return bay__worker_error(to, id, BAY_EINVAL, "the result does not fit in one frame (at most %u bytes)",
                                 BAY_FRAME_MAX);
    if (rc && !dropped(to, rc))
        bay__worker_warn("could not send the RESULT for request %llu %s: %s", (unsigned long long)id,
                        to ? "on a fast channel" : "to plugbayd", bay_strerror(rc));
    return 0;
}

int bay__call_stop_code(const bay_invocation *c)
{
    /* The deadline first: a cancel that comes after it must not turn the
     * caller's BAY_ETIMEDOUT into BAY_ECANCELED. */
    if (c->deadline_ns && bay__now_ns() >= c->deadline_ns)
        return BAY_ETIMEDOUT;
    return atomic_load(&c->stop);
}
