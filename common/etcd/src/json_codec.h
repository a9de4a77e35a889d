#pragma once

// etcd's JSON gateway speaks protobuf's JSON mapping: proto field names, 64-bit integers as
// strings, bytes in base64, enums by name. This codec maps between that JSON and protobuf
// messages through reflection, over nlohmann's SAX parser, so that a steady series of calls
// allocates almost nothing: protobuf's own JSON utilities convert through a type resolver and a
// binary stream and make hundreds of allocations per message (measured with heaptrack: about
// half of the collector agent's allocations).

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace etcdmon::etcd::detail {

/// Appends `message` as JSON to `out`: every field that is set (proto3: not the default),
/// under its proto name; int64/uint64 as strings, bytes in base64, enums by name.
void AppendJson(const google::protobuf::Message& message, std::string& out);

/// Reads `json` into `message` after clearing it (memory of earlier reads is reused). Field
/// names may be proto or lowerCamel names; integers may be numbers or strings; unknown fields
/// are skipped; null leaves a field unset. Returns false, with the reason in `error`, for
/// malformed JSON, a value of the wrong type, or nesting deeper than 32.
bool ReadJson(std::string_view json, google::protobuf::Message& message, std::string& error);

}  // namespace etcdmon::etcd::detail
