/* bridges/common/stream.c — a call's streams: its answer (bay_call_emit, waiting for the caller's credit, and
 * the chunks gathered for a caller that does not read a stream) and its input (bay_call_receive, credit given back). */
#include "stream.h"
#include "fastpath.h"

#include <msgpack.h>
#include <stdio.h>

#include "value_convert.h"

/* The most chunks gathered for one plain caller add up to this many packed
 * bytes, leaving room in the RESULT frame for its header. */
#define GATHERED_MAX (BAY_FRAME_MAX - 4096)

/* count_bytes is a msgpack sink that only counts what it is given. */
static int count_bytes(void *data, const char *buf, size_t len)
{
    (void)buf;
    *(size_t *)data += len;
    return 0;
}

/* gather appends a copy of chunk to c's gathered chunks, for a caller that
 * takes the whole answer at once. */
static int gather(bay_invocation *c, const bay_value *chunk)
{
    size_t bytes = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &bytes, count_bytes);
    bay__value_pack_to(&pk, chunk);
    if (bytes > GATHERED_MAX - c->gathered_bytes)
        return bay_call_error(c, BAY_EINVAL, "%s: the chunks emitted add up to more than one answer holds (%u bytes); "
                              "this caller takes the answer whole: read it as a stream (bay_call_stream) instead",
                              c->name, GATHERED_MAX);
    if (c->gathered == NULL && (c->gathered = bay_array()) == NULL)
        return bay_call_error(c, BAY_ENOMEM, "%s: %s", c->name, bay_strerror(BAY_ENOMEM));
    bay_value *copy = bay_value_copy(chunk);
    if (copy == NULL || bay_array_push(c->gathered, copy) != 0)
        return bay_call_error(c, BAY_ENOMEM, "%s: %s", c->name, bay_strerror(BAY_ENOMEM));
    c->gathered_bytes += bytes;
    return 0;
}

/* credited tells whether the call (arg) may send a chunk now, or must stop. */
static bool credited(void *arg)
{
    const bay_invocation *c = arg;
    return atomic_load(&c->credit) > 0 || bay__call_stop_code(c) != 0;
}

int bay_call_emit(bay_invocation *call, const bay_value *chunk)
{
    if (call == NULL || chunk == NULL)
        return call ? bay_call_error(call, BAY_EINVAL, "bay_call_emit: the chunk is NULL") : BAY_EINVAL;
    if (bay__value_nests_deeper(chunk, BAY_CONVERT_MAX_DEPTH))
        return bay_call_error(call, BAY_ETYPE, "%s emitted a chunk that cannot cross a call: arrays and maps nest "
                              "deeper than %d levels", call->name, BAY_CONVERT_MAX_DEPTH);
    int stop = bay__call_stop_code(call);
    if (stop)
        return stop;
    if (!call->stream)
        return gather(call, chunk);
    if (call->chan == NULL) { /* through plugbayd: within the caller's credit; a fast channel's ring is its own limit */
        bay__bell *bell = &bay__w.bell; /* a CREDIT and a CANCEL ring it */
        bay__ring_wait w = {.until_ns = call->deadline_ns};
        bay__wait_for(credited, call, &bell, 1, &w);
        if ((stop = bay__call_stop_code(call)) != 0)
            return stop;
        atomic_fetch_sub(&call->credit, 1);
    }
    bay__frame f = {.type = BAY_F_CHUNK, .id = call->id};
    int rc = bay__worker_send_chunk(call, &f, chunk);
    if (rc && (stop = bay__call_stop_code(call)) != 0)
        return stop;
    if (rc == BAY_EINVAL)
        return bay_call_error(call, BAY_EINVAL, "%s emitted a chunk over one frame (%u bytes at most)", call->name,
                              BAY_FRAME_MAX);
    return rc ? bay_call_error(call, rc, "%s: sending a chunk: %s", call->name, bay_strerror(rc)) : 0;
}

int bay__stream_end(bay_invocation *call, bay_value **result)
{
    if (call->gathered == NULL)
        return 0;
    bay_value *all = call->gathered;
    call->gathered = NULL;
    bay_value *last = *result;
    *result = NULL;
    if (last && bay_value_type(last) == BAY_NIL) {
        bay_value_free(last);
        last = NULL;
    }
    if (last && bay_array_push(all, last) != 0) { /* it freed last */
        bay_value_free(all);
        return bay_call_error(call, BAY_ENOMEM, "%s: %s", call->name, bay_strerror(BAY_ENOMEM));
    }
    *result = all;
    return 0;
}

/* credit sends the broker a CREDIT of count more input chunks for call c; false when it could not. */
static bool credit(bay_invocation *c, int count)
{
    bay__frame f = {.type = BAY_F_CREDIT, .id = c->id, .count = count};
    return bay__worker_send(c->chan, &f, NULL) == 0;
}

void bay__stream_start(bay_invocation *call)
{
    if (call->input && call->chan == NULL && !credit(call, BAY_INPUT_WINDOW))
        bay__worker_warn("could not give the caller of %s credit for its input", call->name);
}

/* received tells whether call c (arg) has input to take, saw its end, or must stop. Under bay__w.lock. */
static bool received(void *arg)
{
    const bay_invocation *c = arg;
    pthread_mutex_lock(&bay__w.lock);
    bool ready = c->inbox || c->input_ended;
    pthread_mutex_unlock(&bay__w.lock);
    return ready || bay__call_stop_code(c) != 0;
}

int bay_call_receive(bay_invocation *call, bay_value **chunk)
{
    if (chunk)
        *chunk = NULL;
    if (call == NULL || chunk == NULL)
        return call ? bay_call_error(call, BAY_EINVAL, "bay_call_receive: chunk is NULL") : BAY_EINVAL;
    if (!call->input)
        return bay_call_error(call, BAY_EINVAL, "%s: its caller sends no input (a caller sends it with "
                              "bay_call_upload)", call->name);
    if (call->chan) /* its input comes in the channel's ring, which is its back-pressure: no credit */
        return bay__fast_receive(call, chunk);
    bay__bell *bell = &bay__w.bell; /* a CHUNK, the END and a CANCEL ring it */
    bay__ring_wait w = {.until_ns = call->deadline_ns};
    bay__wait_for(received, call, &bell, 1, &w);
    pthread_mutex_lock(&bay__w.lock);
    bay__input *in = call->inbox;
    if (in && (call->inbox = in->next) == NULL)
        call->inbox_tail = NULL;
    pthread_mutex_unlock(&bay__w.lock);
    if (in == NULL) { /* the end, or a stop */
        int stop = bay__call_stop_code(call);
        return stop ? stop : 0;
    }
    *chunk = in->value;
    free(in);
    if (++call->input_taken >= BAY_INPUT_WINDOW / 2 && credit(call, call->input_taken))
        call->input_taken = 0;
    return 0;
}

void bay__stream_free(bay_invocation *call)
{
    bay_value_free(call->gathered);
    call->gathered = NULL;
    pthread_mutex_lock(&bay__w.lock);
    bay__input *in = call->inbox;
    call->inbox = call->inbox_tail = NULL;
    call->input = false; /* input that comes later is dropped */
    pthread_mutex_unlock(&bay__w.lock);
    while (in) {
        bay__input *next = in->next;
        bay_value_free(in->value);
        free(in);
        in = next;
    }
}
