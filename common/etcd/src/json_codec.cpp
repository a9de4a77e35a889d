#include "json_codec.h"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "etcdmon/strings/strings.h"

namespace etcdmon::etcd::detail {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr std::size_t kMaxDepth = 32;

void AppendBase64(std::string_view bytes, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + 4 * ((bytes.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[start]),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(start + static_cast<std::size_t>(n));
}

void AppendEscaped(std::string_view text, std::string& out) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

template <typename T>
void AppendNumber(T value, std::string& out, bool quoted) {
  std::array<char, 32> buffer;
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (quoted) {
    out += '"';
  }
  out.append(buffer.data(), result.ptr);
  if (quoted) {
    out += '"';
  }
}

void AppendValue(const Message& m, const Reflection& r, const FieldDescriptor* f, int index,
                 std::string& out) {
  const bool repeated = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      AppendNumber(repeated ? r.GetRepeatedInt32(m, f, index) : r.GetInt32(m, f), out, false);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      AppendNumber(repeated ? r.GetRepeatedUInt32(m, f, index) : r.GetUInt32(m, f), out, false);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      AppendNumber(repeated ? r.GetRepeatedInt64(m, f, index) : r.GetInt64(m, f), out, true);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      AppendNumber(repeated ? r.GetRepeatedUInt64(m, f, index) : r.GetUInt64(m, f), out, true);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendNumber(repeated ? r.GetRepeatedDouble(m, f, index) : r.GetDouble(m, f), out, false);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendNumber(repeated ? r.GetRepeatedFloat(m, f, index) : r.GetFloat(m, f), out, false);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (repeated ? r.GetRepeatedBool(m, f, index) : r.GetBool(m, f)) ? "true" : "false";
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = repeated ? r.GetRepeatedEnumValue(m, f, index) : r.GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(number);
      if (value != nullptr) {
        AppendEscaped(value->name(), out);
      } else {
        AppendNumber(number, out, false);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& value = repeated ? r.GetRepeatedStringReference(m, f, index, &scratch)
                                          : r.GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        out += '"';
        AppendBase64(value, out);
        out += '"';
      } else {
        AppendEscaped(value, out);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      AppendJson(repeated ? r.GetRepeatedMessage(m, f, index) : r.GetMessage(m, f), out);
      break;
  }
}

// The SAX handler: a stack of messages being filled, and a counter of nested values being
// skipped (unknown fields).
class Reader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  Reader(Message& root, std::string& error) : root_(root), error_(error) {}

  bool saw_object() const { return saw_object_; }

  bool null() override { return true; }  // protobuf's mapping: null is "not set"

  bool boolean(bool value) override {
    const FieldDescriptor* f = Target();
    if (f == nullptr) {
      return !failed_;
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_BOOL) {
      return Fail(f, "a boolean");
    }
    Frame& top = Top();
    f->is_repeated() ? top.reflection->AddBool(top.message, f, value)
                     : top.reflection->SetBool(top.message, f, value);
    return true;
  }

  bool number_integer(number_integer_t value) override { return Integer(value, value < 0); }
  bool number_unsigned(number_unsigned_t value) override { return Integer(value, false); }

  bool number_float(number_float_t value, const string_t&) override {
    const FieldDescriptor* f = Target();
    if (f == nullptr) {
      return !failed_;
    }
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return SetFloating(f, value);
      default:
        if (std::trunc(value) == value && std::fabs(value) < 9.2e18) {
          return Integer(static_cast<uint64_t>(std::fabs(value)), value < 0);
        }
        return Fail(f, "a number with a fraction");
    }
  }

  bool string(string_t& value) override {
    const FieldDescriptor* f = Target();
    if (f == nullptr) {
      return !failed_;
    }
    Frame& top = Top();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        if (f->type() == FieldDescriptor::TYPE_BYTES) {
          if (!strings::DecodeBase64(value, scratch_)) {
            return Fail(f, "text that is not base64");
          }
          f->is_repeated() ? top.reflection->AddString(top.message, f, scratch_)
                           : top.reflection->SetString(top.message, f, scratch_);
        } else {
          f->is_repeated() ? top.reflection->AddString(top.message, f, value)
                           : top.reflection->SetString(top.message, f, value);
        }
        return true;
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* enum_value = f->enum_type()->FindValueByName(value);
        if (enum_value == nullptr) {
          return Fail(f, "an unknown enum name");
        }
        f->is_repeated() ? top.reflection->AddEnumValue(top.message, f, enum_value->number())
                         : top.reflection->SetEnumValue(top.message, f, enum_value->number());
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        if (value == "true" || value == "false") {
          return boolean(value == "true");
        }
        return Fail(f, "a string");
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double d = 0;
        const auto result = std::from_chars(value.data(), value.data() + value.size(), d);
        if (result.ec != std::errc() || result.ptr != value.data() + value.size()) {
          return Fail(f, "a string that is not a number");
        }
        return SetFloating(f, d);
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return Fail(f, "a string");
      default: {
        // 64-bit integers travel as strings.
        const bool negative = !value.empty() && value.front() == '-';
        const char* begin = value.data() + (negative ? 1 : 0);
        uint64_t magnitude = 0;
        const auto result = std::from_chars(begin, value.data() + value.size(), magnitude);
        if (result.ec != std::errc() || result.ptr != value.data() + value.size() ||
            begin == value.data() + value.size()) {
          return Fail(f, "a string that is not an integer");
        }
        return Integer(magnitude, negative);
      }
    }
  }

  bool binary(binary_t&) override { return Fail(nullptr, "binary data"); }

  bool start_object(std::size_t) override {
    if (skip_ > 0 || (depth_ > 0 && Top().field == nullptr)) {
      ++skip_;
      return true;
    }
    if (depth_ == kMaxDepth) {
      return Fail(nullptr, "nesting deeper than 32");
    }
    Message* child = &root_;
    if (depth_ == 0) {
      saw_object_ = true;
    } else {
      Frame& top = Top();
      const FieldDescriptor* f = top.field;
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return Fail(f, "an object");
      }
      child = f->is_repeated() ? top.reflection->AddMessage(top.message, f)
                               : top.reflection->MutableMessage(top.message, f);
    }
    frames_[depth_++] =
        Frame{child, child->GetReflection(), child->GetDescriptor(), nullptr, false};
    return true;
  }

  bool end_object() override {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    --depth_;
    if (depth_ > 0 && !Top().in_array) {
      Top().field = nullptr;
    }
    return true;
  }

  bool key(string_t& name) override {
    if (skip_ > 0) {
      return true;
    }
    Frame& top = Top();
    top.field = top.descriptor->FindFieldByName(name);
    if (top.field == nullptr) {
      top.field = top.descriptor->FindFieldByCamelcaseName(name);
    }
    top.in_array = false;
    return true;
  }

  bool start_array(std::size_t) override {
    if (skip_ > 0 || depth_ == 0 || Top().field == nullptr) {
      ++skip_;
      return true;
    }
    if (!Top().field->is_repeated()) {
      return Fail(Top().field, "an array");
    }
    Top().in_array = true;
    return true;
  }

  bool end_array() override {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Top().in_array = false;
    Top().field = nullptr;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    if (!failed_) {
      error_ = "malformed JSON at byte " + std::to_string(position) + ": " + e.what();
    }
    return false;
  }

 private:
  struct Frame {
    Message* message;
    const Reflection* reflection;
    const Descriptor* descriptor;
    const FieldDescriptor* field;  // of the key just read; nullptr: unknown or none
    bool in_array;                 // inside the array value of `field`
  };

  Frame& Top() { return frames_[depth_ - 1]; }

  // The field a scalar goes to; nullptr when it is to be ignored (skipped, unknown, top level).
  const FieldDescriptor* Target() {
    if (skip_ > 0 || depth_ == 0) {
      return nullptr;
    }
    return Top().field;
  }

  bool Fail(const FieldDescriptor* f, const char* what) {
    failed_ = true;
    error_ = std::string("unexpected ") + what;
    if (f != nullptr) {
      error_ += " for field " + f->full_name();
    }
    return false;
  }

  bool Integer(uint64_t magnitude, bool negative) {
    const FieldDescriptor* f = Target();
    if (f == nullptr) {
      return !failed_;
    }
    Frame& top = Top();
    Message* m = top.message;
    const Reflection* r = top.reflection;
    const bool repeated = f->is_repeated();
    const auto fits = [&](auto min, auto max) {
      return negative ? magnitude <= static_cast<uint64_t>(-(min + 1)) + 1
                      : magnitude <= static_cast<uint64_t>(max);
    };
    const int64_t signed_value =
        negative ? static_cast<int64_t>(~magnitude + 1) : static_cast<int64_t>(magnitude);
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        if (!fits(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())) {
          return Fail(f, "an integer out of range");
        }
        repeated ? r->AddInt32(m, f, static_cast<int32_t>(signed_value))
                 : r->SetInt32(m, f, static_cast<int32_t>(signed_value));
        return true;
      case FieldDescriptor::CPPTYPE_INT64:
        if (!fits(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
          return Fail(f, "an integer out of range");
        }
        repeated ? r->AddInt64(m, f, signed_value) : r->SetInt64(m, f, signed_value);
        return true;
      case FieldDescriptor::CPPTYPE_UINT32:
        if (negative || magnitude > std::numeric_limits<uint32_t>::max()) {
          return Fail(f, "an integer out of range");
        }
        repeated ? r->AddUInt32(m, f, static_cast<uint32_t>(magnitude))
                 : r->SetUInt32(m, f, static_cast<uint32_t>(magnitude));
        return true;
      case FieldDescriptor::CPPTYPE_UINT64:
        if (negative) {
          return Fail(f, "a negative integer");
        }
        repeated ? r->AddUInt64(m, f, magnitude) : r->SetUInt64(m, f, magnitude);
        return true;
      case FieldDescriptor::CPPTYPE_ENUM:
        if (!fits(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())) {
          return Fail(f, "an integer out of range");
        }
        repeated ? r->AddEnumValue(m, f, static_cast<int>(signed_value))
                 : r->SetEnumValue(m, f, static_cast<int>(signed_value));
        return true;
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return SetFloating(
            f, negative ? -static_cast<double>(magnitude) : static_cast<double>(magnitude));
      default:
        return Fail(f, "a number");
    }
  }

  bool SetFloating(const FieldDescriptor* f, double value) {
    Frame& top = Top();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
      f->is_repeated() ? top.reflection->AddDouble(top.message, f, value)
                       : top.reflection->SetDouble(top.message, f, value);
    } else {
      f->is_repeated() ? top.reflection->AddFloat(top.message, f, static_cast<float>(value))
                       : top.reflection->SetFloat(top.message, f, static_cast<float>(value));
    }
    return true;
  }

  Message& root_;
  std::string& error_;
  std::array<Frame, kMaxDepth> frames_{};
  std::size_t depth_ = 0;
  std::size_t skip_ = 0;  // nesting depth inside an ignored value
  bool failed_ = false;
  bool saw_object_ = false;  // the top-level value was an object
  std::string scratch_;      // decoded bytes
};

}  // namespace

void AppendJson(const Message& message, std::string& out) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  out += '{';
  bool first = true;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    const int size = f->is_repeated() ? reflection->FieldSize(message, f) : 0;
    if (f->is_repeated() ? size == 0 : !reflection->HasField(message, f)) {
      continue;
    }
    if (!first) {
      out += ',';
    }
    first = false;
    AppendEscaped(f->name(), out);
    out += ':';
    if (!f->is_repeated()) {
      AppendValue(message, *reflection, f, -1, out);
      continue;
    }
    out += '[';
    for (int j = 0; j < size; ++j) {
      if (j > 0) {
        out += ',';
      }
      AppendValue(message, *reflection, f, j, out);
    }
    out += ']';
  }
  out += '}';
}

bool ReadJson(std::string_view json, Message& message, std::string& error) {
  message.Clear();
  error.clear();
  Reader reader(message, error);
  const bool ok = nlohmann::json::sax_parse(json.begin(), json.end(), &reader,
                                            nlohmann::json::input_format_t::json,
                                            /*strict=*/true);
  if (ok && reader.saw_object()) {
    return true;
  }
  if (ok || error.empty()) {
    error = "not a JSON object";
  }
  return false;
}

}  // namespace etcdmon::etcd::detail
