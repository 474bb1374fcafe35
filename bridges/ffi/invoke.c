/* bridges/ffi/invoke.c — calling a bound C function: values to C types, ffi_call, C values back to values. */
#include "binding.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every integer a double holds exactly lies within ±2^53. */
#define EXACT_DOUBLE_MAX (INT64_C(1) << 53)

/* One C value: an argument, the target of an out-parameter, or the return value. */
typedef union slot {
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    bool b;
    float f;
    double d;
    const void *p;
    ffi_arg ret_u;  /* an unsigned or bool return value, widened by libffi to a register */
    ffi_sarg ret_s; /* a signed return value, widened likewise */
} slot;

static ffi_type *int_type(const bay__sig_type *t)
{
    switch (t->bits) {
    case 8: return t->is_signed ? &ffi_type_sint8 : &ffi_type_uint8;
    case 16: return t->is_signed ? &ffi_type_sint16 : &ffi_type_uint16;
    case 32: return t->is_signed ? &ffi_type_sint32 : &ffi_type_uint32;
    default: return t->is_signed ? &ffi_type_sint64 : &ffi_type_uint64;
    }
}

_Static_assert(sizeof(bool) == 1, "bool is passed to libffi as uint8");

/* ffi_type_of returns the libffi type of a value of type t passed as role. */
static ffi_type *ffi_type_of(const bay__sig_type *t, bay__sig_role role)
{
    if (role == BAY_SIG_OUT)
        return &ffi_type_pointer;
    switch (t->kind) {
    case BAY_SIG_VOID: return &ffi_type_void;
    case BAY_SIG_INT: return int_type(t);
    case BAY_SIG_BOOL: return &ffi_type_uint8;
    case BAY_SIG_FLOAT: return &ffi_type_float;
    case BAY_SIG_DOUBLE: return &ffi_type_double;
    case BAY_SIG_STR:
    case BAY_SIG_BYTES: return &ffi_type_pointer;
    }
    return &ffi_type_void;
}

int bay__binding_prepare(bay__binding *b)
{
    for (size_t i = 0; i < b->sig.nparams; i++)
        b->arg_types[i] = ffi_type_of(&b->sig.params[i].type, b->sig.params[i].role);
    return ffi_prep_cif(&b->cif, FFI_DEFAULT_ABI, (unsigned)b->sig.nparams, ffi_type_of(&b->sig.ret, BAY_SIG_ARG),
                        b->arg_types);
}

static int arg_error(bay_invocation *call, const bay__binding *b, size_t param, size_t argno, int code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* arg_error refuses call argument argno (from 1), which feeds parameter param:
 * "EXT: argument 2 (bytes buf) must be ..., got ...". Returns code. */
static int arg_error(bay_invocation *call, const bay__binding *b, size_t param, size_t argno, int code, const char *fmt, ...)
{
    char label[BAY_SIG_NAME_MAX + 16], text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    bay__sig_param_label(&b->sig, param, label, sizeof label);
    return bay_call_error(call, code, "%s: argument %zu (%s) %s", bay_call_name(call), argno, label, text);
}

/* int_range gives the values an integer type holds that a plugbay int can say. */
static void int_range(const bay__sig_type *t, int64_t *min, int64_t *max)
{
    if (t->bits == 64) {
        *min = t->is_signed ? INT64_MIN : 0;
        *max = INT64_MAX;
    } else if (t->is_signed) {
        *max = (INT64_C(1) << (t->bits - 1)) - 1;
        *min = -*max - 1;
    } else {
        *min = 0;
        *max = (INT64_C(1) << t->bits) - 1;
    }
}

/* store_int writes v (already within t's range) into s as t. */
static void store_int(slot *s, const bay__sig_type *t, int64_t v)
{
    switch (t->bits) {
    case 8: t->is_signed ? (void)(s->i8 = (int8_t)v) : (void)(s->u8 = (uint8_t)v); break;
    case 16: t->is_signed ? (void)(s->i16 = (int16_t)v) : (void)(s->u16 = (uint16_t)v); break;
    case 32: t->is_signed ? (void)(s->i32 = (int32_t)v) : (void)(s->u32 = (uint32_t)v); break;
    default: s->i64 = v; break;
    }
}

/* to_number converts v to the integer, bool, float or double parameter
 * param (call argument argno) into s. */
static int to_number(bay_invocation *call, const bay__binding *b, size_t param, size_t argno, const bay_value *v, slot *s)
{
    const bay__sig_type *t = &b->sig.params[param].type;
    bay_type vt = bay_value_type(v);
    int64_t min, max, i = bay_value_int(v);
    double d = bay_value_float(v);
    switch (t->kind) {
    case BAY_SIG_INT:
        int_range(t, &min, &max);
        if (vt != BAY_INT)
            return arg_error(call, b, param, argno, BAY_ETYPE, "must be an int, got %s", bay_type_name(vt));
        if (i < min || i > max)
            return arg_error(call, b, param, argno, BAY_EINVAL,
                             "must be an int from %" PRId64 " to %" PRId64 ", got %" PRId64 " (refused, not truncated)",
                             min, max, i);
        store_int(s, t, i);
        return 0;
    case BAY_SIG_BOOL:
        if (vt != BAY_BOOL)
            return arg_error(call, b, param, argno, BAY_ETYPE, "must be a bool, got %s", bay_type_name(vt));
        s->b = bay_value_bool(v);
        return 0;
    case BAY_SIG_FLOAT:
    case BAY_SIG_DOUBLE:
        if (vt != BAY_FLOAT && vt != BAY_INT)
            return arg_error(call, b, param, argno, BAY_ETYPE, "must be a float or an int, got %s", bay_type_name(vt));
        if (vt == BAY_INT && (i > EXACT_DOUBLE_MAX || i < -EXACT_DOUBLE_MAX))
            return arg_error(call, b, param, argno, BAY_EINVAL,
                             "must be an int a double holds exactly (within ±2^53), got %" PRId64
                             "; pass it as a float to accept the rounding", i);
        if (t->kind == BAY_SIG_DOUBLE) {
            s->d = d;
            return 0;
        }
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return arg_error(call, b, param, argno, BAY_EINVAL, "must be within ±%g for a float, got %g", FLT_MAX, d);
        s->f = (float)d;
        return 0;
    default:
        return 0;
    }
}

/* to_str points s at the string argument argno for parameter param. */
static int to_str(bay_invocation *call, const bay__binding *b, size_t param, size_t argno, const bay_value *v, slot *s)
{
    const bay__sig_type *t = &b->sig.params[param].type;
    bay_type vt = bay_value_type(v);
    size_t len;
    if (vt == BAY_NIL && t->nullable) {
        s->p = NULL;
        return 0;
    }
    if (vt != BAY_STR)
        return arg_error(call, b, param, argno, BAY_ETYPE, "must be a str%s, got %s", t->nullable ? " or nil" : "",
                         bay_type_name(vt));
    s->p = bay_value_str(v, &len);
    if (strlen(s->p) != len)
        return arg_error(call, b, param, argno, BAY_EINVAL,
                         "holds a NUL byte at offset %zu; a C string ends there (pass a buffer as \"bytes\")",
                         strlen(s->p));
    return 0;
}

/* to_bytes points s at the buffer argument argno for parameter param and
 * writes its length into the slot of its len() parameter. */
static int to_bytes(bay_invocation *call, const bay__binding *b, size_t param, size_t argno, const bay_value *v, slot *slots)
{
    bay_type vt = bay_value_type(v);
    size_t len, lp = b->sig.params[param].length;
    const bay__sig_type *lt = &b->sig.params[lp].type;
    int64_t min, max;
    if (vt != BAY_BIN && vt != BAY_STR)
        return arg_error(call, b, param, argno, BAY_ETYPE, "must be a bin or a str, got %s", bay_type_name(vt));
    slots[param].p = bay_value_str(v, &len);
    int_range(lt, &min, &max);
    if (len > (uint64_t)max)
        return arg_error(call, b, param, argno, BAY_EINVAL,
                         "is %zu bytes long, more than its length parameter (%s) holds (%" PRId64 ")", len, lt->name,
                         max);
    store_int(&slots[lp], lt, (int64_t)len);
    return 0;
}

/* convert_args fills slots (and, for out-parameters, points them at outs)
 * from args, checking every argument against the signature first. */
static int convert_args(bay_invocation *call, const bay__binding *b, const bay_value *args, slot *slots, slot *outs)
{
    size_t n = bay_value_len(args), argno = 0;
    if (n != b->sig.nargs) {
        char want[512];
        bay__signature_args(&b->sig, want, sizeof want);
        return bay_call_error(call, BAY_ETYPE, "%s takes %zu argument%s (%s), got %zu", bay_call_name(call),
                              b->sig.nargs, b->sig.nargs == 1 ? "" : "s", want, n);
    }
    for (size_t i = 0; i < b->sig.nparams; i++) {
        const bay__sig_param *p = &b->sig.params[i];
        if (p->role == BAY_SIG_OUT)
            slots[i].p = &outs[i];
        if (p->role != BAY_SIG_ARG)
            continue; /* len() parameters are filled with their buffer */
        const bay_value *v = bay_array_get(args, argno++);
        int rc = p->type.kind == BAY_SIG_STR     ? to_str(call, b, i, argno, v, &slots[i])
                 : p->type.kind == BAY_SIG_BYTES ? to_bytes(call, b, i, argno, v, slots)
                                                 : to_number(call, b, i, argno, v, &slots[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* narrow moves an integer or bool return value, which libffi widens to a
 * whole register (ffi_arg), into the member of its own width. */
static void narrow(slot *s, const bay__sig_type *t)
{
    ffi_sarg sv = s->ret_s;
    ffi_arg uv = s->ret_u;
    if (t->kind == BAY_SIG_BOOL)
        s->b = (uint8_t)uv != 0;
    else if (t->kind == BAY_SIG_INT && t->bits < 64)
        store_int(s, t, t->is_signed ? (int64_t)sv : (int64_t)uv);
}

/* to_value converts the C value in s of type t (what names it in messages) into *out. */
static int to_value(bay_invocation *call, const char *what, const bay__sig_type *t, const slot *s, bay_value **out)
{
    switch (t->kind) {
    case BAY_SIG_VOID: *out = bay_nil(); break;
    case BAY_SIG_BOOL: *out = bay_bool(s->b); break;
    case BAY_SIG_FLOAT: *out = bay_float(s->f); break;
    case BAY_SIG_DOUBLE: *out = bay_float(s->d); break;
    case BAY_SIG_STR: *out = s->p ? bay_str(s->p) : bay_nil(); break;
    case BAY_SIG_BYTES: *out = NULL; break; /* the parser refuses bytes as a result */
    case BAY_SIG_INT:
        if (t->is_signed)
            *out = bay_int(t->bits == 8 ? s->i8 : t->bits == 16 ? s->i16 : t->bits == 32 ? s->i32 : s->i64);
        else if (t->bits < 64 || s->u64 <= INT64_MAX)
            *out = bay_int(t->bits == 8 ? s->u8 : t->bits == 16 ? s->u16 : t->bits == 32 ? s->u32 : (int64_t)s->u64);
        else
            return bay_call_error(call, BAY_EINVAL,
                                  "%s: %s (%s) is %" PRIu64 ", more than a plugbay int holds (2^63-1)",
                                  bay_call_name(call), what, t->name, s->u64);
        break;
    }
    return *out ? 0 : bay_call_error(call, BAY_ENOMEM, "%s: %s", bay_call_name(call), bay_strerror(BAY_ENOMEM));
}

/* collect builds the result: the return value, or with out-parameters an
 * array of the return value (unless void) and each out-parameter in order. */
static int collect(bay_invocation *call, const bay__binding *b, const slot *ret, const slot *outs, bay_value **result)
{
    if (b->sig.nouts == 0)
        return to_value(call, "the result", &b->sig.ret, ret, result);
    bay_value *all = bay_array(), *v;
    int rc = all ? 0 : bay_call_error(call, BAY_ENOMEM, "%s: %s", bay_call_name(call), bay_strerror(BAY_ENOMEM));
    if (rc == 0 && b->sig.ret.kind != BAY_SIG_VOID && (rc = to_value(call, "the result", &b->sig.ret, ret, &v)) == 0)
        rc = bay_array_push(all, v);
    for (size_t i = 0; rc == 0 && i < b->sig.nparams; i++) {
        const bay__sig_param *p = &b->sig.params[i];
        char what[BAY_SIG_NAME_MAX + 24];
        snprintf(what, sizeof what, "out parameter %s", p->name);
        if (p->role == BAY_SIG_OUT && (rc = to_value(call, what, &p->type, &outs[i], &v)) == 0)
            rc = bay_array_push(all, v);
    }
    if (rc) {
        bay_value_free(all);
        return rc;
    }
    *result = all;
    return 0;
}

int bay__binding_call(bay__binding *b, bay_invocation *call, const bay_value *args, bay_value **result)
{
    slot slots[BAY_SIG_PARAMS_MAX] = {0}, outs[BAY_SIG_PARAMS_MAX] = {0}, ret = {0};
    void *values[BAY_SIG_PARAMS_MAX];
    int rc = convert_args(call, b, args, slots, outs);
    if (rc)
        return rc;
    for (size_t i = 0; i < b->sig.nparams; i++)
        values[i] = &slots[i];
    ffi_call(&b->cif, b->fn, &ret, values);
    narrow(&ret, &b->sig.ret);
    return collect(call, b, &ret, outs, result);
}
