// bindings/node/src/values.h — converts JavaScript values to plugbay values and back, naming the path of a value that cannot cross.
#ifndef PLUGBAY_NODE_VALUES_H
#define PLUGBAY_NODE_VALUES_H

#include <napi.h>

#include <string>

#include <plugbay/value.h>

namespace pbnode {

// ToBay converts v to a new plugbay value the caller owns. A value that cannot
// cross (a function, a symbol, a cycle, a BigInt beyond int64, an object that
// is not plain) throws a TypeError or RangeError naming where it sits under
// path ("args[1].list[0]"), and returns nullptr.
bay_value *ToBay(Napi::Env env, Napi::Value v, const std::string &path);

// FromBay converts v (borrowed) to a JavaScript value: nil → null, ints within
// 2^53 → number, beyond → BigInt, bin → Buffer, map → plain object.
Napi::Value FromBay(Napi::Env env, const bay_value *v);

}  // namespace pbnode

#endif
