// bindings/node/src/values.cc — converts JavaScript values to plugbay values and back, naming the path of a value that cannot cross.
#include "values.h"

#include <cmath>
#include <vector>

namespace pbnode {
namespace {

constexpr double kMaxSafe = 9007199254740992.0;  // 2^53

// One step of the path to the value being converted: an array index or a map key.
struct Step {
    uint32_t index;
    const std::string *key;  // nullptr for an index
};

// The path is rendered only when a value cannot cross, so a call pays nothing for it.
struct Converter {
    Napi::Env env;
    const std::string &root;
    std::vector<Napi::Value> stack;  // the arrays and objects being converted, to find cycles
    std::vector<Step> steps;         // where the value being converted sits under root
    Napi::Value objectProto;         // Object.prototype, looked up once

    std::string Path() const
    {
        std::string p = root;
        for (const Step &s : steps)
            p += s.key ? "." + *s.key : "[" + std::to_string(s.index) + "]";
        return p;
    }

    bool Fail(bool range, const std::string &what)
    {
        std::string msg = Path() + ": " + what;
        if (range)
            Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
        else
            Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
        return false;
    }

    bool InStack(Napi::Value v)
    {
        for (const Napi::Value &s : stack)
            if (s.StrictEquals(v))
                return true;
        return false;
    }

    bay_value *Number(double d)
    {
        if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= kMaxSafe)
            return bay_int(static_cast<int64_t>(d));
        return bay_float(d);
    }

    bay_value *BigInt(Napi::BigInt b)
    {
        bool lossless = false;
        int64_t i = b.Int64Value(&lossless);
        if (!lossless) {
            Fail(true, "BigInt " + b.ToString().Utf8Value() + " does not fit a 64-bit signed int");
            return nullptr;
        }
        return bay_int(i);
    }

    bay_value *Array(Napi::Array a)
    {
        bay_value *out = bay_array();
        uint32_t n = a.Length();
        for (uint32_t i = 0; out && i < n; i++) {
            steps.push_back({i, nullptr});
            bay_value *item = Convert(a.Get(i));
            steps.pop_back();
            if (item == nullptr) {
                bay_value_free(out);
                return nullptr;
            }
            bay_array_push(out, item);
        }
        return out;
    }

    bay_value *Map(Napi::Object o)
    {
        napi_value names;
        napi_status st = napi_get_all_property_names(env, o, napi_key_own_only,
                                                     static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                                     napi_key_numbers_to_strings, &names);
        if (st != napi_ok)
            return nullptr;
        Napi::Array keys(env, names);
        bay_value *out = bay_map();
        uint32_t n = keys.Length();
        for (uint32_t i = 0; out && i < n; i++) {
            std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
            steps.push_back({0, &key});
            bay_value *item = Convert(o.Get(key));
            steps.pop_back();
            if (item == nullptr) {
                bay_value_free(out);
                return nullptr;
            }
            bay_map_set(out, key.c_str(), item);
        }
        return out;
    }

    bool IsPlain(Napi::Object o)
    {
        napi_value proto;
        if (napi_get_prototype(env, o, &proto) != napi_ok)
            return false;
        Napi::Value p(env, proto);
        if (p.IsNull())
            return true;
        if (objectProto.IsEmpty())
            objectProto = env.Global().Get("Object").As<Napi::Object>().Get("prototype");
        return p.StrictEquals(objectProto);
    }

    std::string Describe(Napi::Object o)
    {
        Napi::Value ctor = o.Get("constructor");
        if (ctor.IsFunction()) {
            std::string name = ctor.As<Napi::Object>().Get("name").ToString().Utf8Value();
            if (!name.empty())
                return "a " + name;
        }
        return "an object that is not plain";
    }

    bay_value *Container(Napi::Value v)
    {
        if (InStack(v)) {
            Fail(false, "a cycle: this value contains itself");
            return nullptr;
        }
        if (stack.size() >= 32) {
            Fail(false, "nested deeper than 32 levels (plugbay's limit)");
            return nullptr;
        }
        stack.push_back(v);
        bay_value *out = nullptr;
        if (v.IsArray()) {
            out = Array(v.As<Napi::Array>());
        } else {
            Napi::Object o = v.As<Napi::Object>();
            if (IsPlain(o))
                out = Map(o);
            else
                Fail(false, Describe(o) + " cannot cross; pass a plain object, an array, a Buffer or a scalar");
        }
        stack.pop_back();
        return out;
    }

    bay_value *Convert(Napi::Value v)
    {
        bay_value *out = nullptr;
        switch (v.Type()) {
        case napi_undefined:
        case napi_null:
            out = bay_nil();
            break;
        case napi_boolean:
            out = bay_bool(v.As<Napi::Boolean>().Value());
            break;
        case napi_number:
            out = Number(v.As<Napi::Number>().DoubleValue());
            break;
        case napi_bigint:
            return BigInt(v.As<Napi::BigInt>());
        case napi_string: {
            std::string s = v.As<Napi::String>().Utf8Value();
            out = bay_strn(s.data(), s.size());
            break;
        }
        case napi_function:
            Fail(false, "a function cannot cross");
            return nullptr;
        case napi_symbol:
            Fail(false, "a symbol cannot cross");
            return nullptr;
        case napi_object:
            if (v.IsTypedArray()) {
                Napi::TypedArray t = v.As<Napi::TypedArray>();
                if (t.TypedArrayType() != napi_uint8_array) {
                    Fail(false, "only a Buffer or Uint8Array crosses as bytes, not another typed array");
                    return nullptr;
                }
                Napi::Uint8Array u = v.As<Napi::Uint8Array>();
                out = bay_bin(u.Data(), u.ByteLength());
            } else if (v.IsArrayBuffer()) {
                Napi::ArrayBuffer b = v.As<Napi::ArrayBuffer>();
                out = bay_bin(b.Data(), b.ByteLength());
            } else {
                return Container(v);
            }
            break;
        default:
            Fail(false, "this kind of value cannot cross");
            return nullptr;
        }
        if (out == nullptr)
            Napi::Error::New(env, Path() + ": out of memory").ThrowAsJavaScriptException();
        return out;
    }
};

}  // namespace

bay_value *ToBay(Napi::Env env, Napi::Value v, const std::string &path)
{
    Converter c{env, path, {}, {}, Napi::Value()};
    return c.Convert(v);
}

Napi::Value FromBay(Napi::Env env, const bay_value *v)
{
    switch (bay_value_type(v)) {
    case BAY_NIL:
        return env.Null();
    case BAY_BOOL:
        return Napi::Boolean::New(env, bay_value_bool(v));
    case BAY_INT: {
        int64_t i = bay_value_int(v);
        if (i >= -9007199254740992LL && i <= 9007199254740992LL)  // |i| <= 2^53, as ToBay sends ints
            return Napi::Number::New(env, static_cast<double>(i));
        return Napi::BigInt::New(env, i);
    }
    case BAY_FLOAT:
        return Napi::Number::New(env, bay_value_float(v));
    case BAY_STR: {
        size_t len;
        const char *s = bay_value_str(v, &len);
        return Napi::String::New(env, s, len);
    }
    case BAY_BIN: {
        size_t len;
        const char *s = bay_value_str(v, &len);
        return Napi::Buffer<char>::Copy(env, s, len);
    }
    case BAY_ARRAY: {
        size_t n = bay_value_len(v);
        Napi::Array a = Napi::Array::New(env, n);
        for (size_t i = 0; i < n; i++)
            a.Set(static_cast<uint32_t>(i), FromBay(env, bay_array_get(v, i)));
        return a;
    }
    case BAY_MAP: {
        size_t n = bay_value_len(v);
        Napi::Object o = Napi::Object::New(env);
        for (size_t i = 0; i < n; i++) {
            const bay_value *item;
            const char *key = bay_map_entry(v, i, &item);
            if (std::string(key) == "__proto__")  // an own property, not the prototype
                o.DefineProperty(Napi::PropertyDescriptor::Value(key, FromBay(env, item), napi_default_jsproperty));
            else
                o.Set(key, FromBay(env, item));
        }
        return o;
    }
    }
    return env.Null();
}

}  // namespace pbnode
