/* client/call.c — asking plugbayd: calls (blocking and async), declarations and commands. */
#include "client.h"
#include "fastpath.h"
#include "value_convert.h"

#include <limits.h>
#include <stdlib.h>

/* pack_args checks that args (NULL: none) has type want and packs it into
 * f->raw, in sb (initialised), which the caller frees. fn and name are for messages. */
static int pack_args(const char *fn, const char *name, const bay_value *args, bay_type want, bay__frame *f,
                     bay__scratch *sb, bay_error *err)
{
    if (args == NULL)
        return 0;
    if (bay_value_type(args) != want)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s(\"%s\"): args must be of type %s, got %s", fn, name,
                             bay_type_name(want), bay_type_name(bay_value_type(args)));
    if (bay__value_nests_deeper(args, BAY_WIRE_VALUE_MAX_DEPTH))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "%s(\"%s\"): args nest deeper than %d levels (the args themselves are the first), more "
                             "than a frame carries",
                             fn, name, BAY_WIRE_VALUE_MAX_DEPTH);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, bay__scratch_write);
    int rc = bay__value_pack_to(&pk, args);
    if (rc)
        return bay_error_set(err, rc, NULL, "%s(\"%s\"): cannot pack args: %s", fn, name, bay_strerror(rc));
    f->raw = sb->data;
    f->raw_len = sb->size;
    return 0;
}

/* call checks a call's parameters, sends it and waits for its outcome (out
 * and stream NULL), or returns at once with a pending call in *out, or with
 * stream started (its caller sends input too when input is true). The wait
 * allows the call's deadline plus the grace for the broker's own answer. */
static int call(bay_conn *c, const char *fn, const char *name, const bay_value *args, const bay_call_opts *opts,
                bay_value **result, bay_pending **out, bay_stream *stream, bool input, bay_error *err)
{
    int timeout = opts && opts->timeout_ms ? opts->timeout_ms : BAY_DEFAULT_TIMEOUT_MS;
    if (c == NULL || name == NULL || *name == '\0' || timeout < 0 || timeout > INT_MAX - BAY_CALL_GRACE_MS)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "%s: needs a connection, a non-empty extension point name and a timeout_ms from 0 to %d",
                             fn, INT_MAX - BAY_CALL_GRACE_MS);
    bay__frame f = {.type = BAY_F_CALL, .name = name, .timeout_ms = timeout, .context = opts ? opts->context : NULL,
                    .window = stream ? BAY_STREAM_WINDOW : 0, .input = input};
    bay__scratch sb;
    bay__scratch_init(&sb);
    int rc = pack_args(fn, name, args, BAY_ARRAY, &f, &sb, err);
    if (rc == 0 && stream && bay__fast_stream_open(c, &f, timeout, &stream->fast, err, &rc))
        ; /* a stream on a fast channel */
    else if (rc == 0 && stream)
        rc = bay__request_async(c, &f, timeout + BAY_CALL_GRACE_MS, true, &stream->p, err);
    else if (rc == 0 && out)
        rc = bay__request_async(c, &f, timeout + BAY_CALL_GRACE_MS, false, out, err);
    else if (rc == 0 && !bay__fast_call(c, &f, timeout, result, err, &rc))
        rc = bay__request(c, &f, timeout + BAY_CALL_GRACE_MS, result, err);
    bay__scratch_free(&sb);
    return rc;
}

int bay_call(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_value **result,
             bay_error *err)
{
    if (result)
        *result = NULL;
    return call(c, "bay_call", name, args, opts, result, NULL, NULL, false, err);
}

int bay_call_async(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts,
                   bay_pending **out, bay_error *err)
{
    if (out == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_call_async: out is NULL");
    *out = NULL;
    return call(c, "bay_call_async", name, args, opts, NULL, out, NULL, false, err);
}

/* open_stream starts a stream call for fn (input: its caller sends input too) in *out. */
static int open_stream(bay_conn *c, const char *fn, const char *name, const bay_value *args, const bay_call_opts *opts,
                       bool input, bay_stream **out, bay_error *err)
{
    if (out == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: out is NULL", fn);
    *out = NULL;
    bay_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "%s: out of memory", fn);
    s->input = input;
    snprintf(s->what, sizeof s->what, "call \"%s\"", name ? name : "");
    int rc = call(c, fn, name, args, opts, NULL, NULL, s, input, err);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int bay_call_stream(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_stream **out,
                    bay_error *err)
{
    return open_stream(c, "bay_call_stream", name, args, opts, false, out, err);
}

int bay_call_upload(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_stream **out,
                    bay_error *err)
{
    return open_stream(c, "bay_call_upload", name, args, opts, true, out, err);
}

int bay_declare_typed(bay_conn *c, const char *name, bay_kind kind, const char *types, bay_error *err)
{
    if (c == NULL || name == NULL || *name == '\0' || !bay__kind_valid((int)kind) ||
        types == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_declare_typed: needs a connection, a non-empty name, kind "
                             "BAY_HANDLE, BAY_EVENT or BAY_FILTER and types");
    char why[200];
    bay_value *t = NULL;
    if (bay_value_from_json(types, &t, why, sizeof why) != 0 || bay_value_type(t) != BAY_MAP) {
        bay_value_free(t);
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_declare_typed: the types of \"%s\" must be a JSON object "
                             "{\"args\": SCHEMA, \"result\": SCHEMA}%s%s", name, t ? "" : ": ", t ? "" : why);
    }
    bay_value *args = bay_map();
    bay_map_set(args, "name", bay_str(name));
    bay_map_set(args, "kind", bay_str(bay__kind_name((int)kind)));
    bay_map_set(args, "types", t);
    int rc = bay_command(c, "declare", args, BAY_SETUP_TIMEOUT_MS, NULL, err);
    bay_value_free(args);
    return rc;
}

int bay_declare(bay_conn *c, const char *name, bay_kind kind, bay_error *err)
{
    if (c == NULL || name == NULL || *name == '\0' || !bay__kind_valid((int)kind))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "bay_declare: needs a connection, a non-empty name and kind BAY_HANDLE, BAY_EVENT or BAY_FILTER");
    bay__frame f = {.type = BAY_F_DECLARE, .name = name, .kind = bay__kind_name(kind)};
    return bay__request(c, &f, BAY_SETUP_TIMEOUT_MS, NULL, err);
}

int bay_command(bay_conn *c, const char *command, const bay_value *args, int timeout_ms, bay_value **result,
                bay_error *err)
{
    if (result)
        *result = NULL;
    if (c == NULL || command == NULL || *command == '\0' || timeout_ms < 0)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "bay_command: needs a connection, a command name and a timeout_ms of 0 or more");
    bay__frame f = {.type = BAY_F_COMMAND, .name = command};
    bay__scratch sb;
    bay__scratch_init(&sb);
    int rc = pack_args("bay_command", command, args, BAY_MAP, &f, &sb, err);
    if (rc == 0)
        rc = bay__request(c, &f, timeout_ms ? timeout_ms : BAY_COMMAND_TIMEOUT_MS, result, err);
    bay__scratch_free(&sb);
    return rc;
}

int bay_panels(bay_conn *c, const char *locale, bay_value **out, bay_error *err)
{
    if (out)
        *out = NULL;
    if (out == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_panels: needs somewhere to put the panels (out)");
    bay_value *args = bay_map();
    if (args == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "bay_panels: out of memory");
    if (locale)
        bay_map_set(args, "locale", bay_str(locale));
    int rc = bay_command(c, "panels", args, 0, out, err);
    bay_value_free(args);
    return rc;
}
