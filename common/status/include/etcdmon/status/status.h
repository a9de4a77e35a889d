#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace etcdmon {

/// The canonical error codes the project uses (a subset of gRPC's / Abseil's set).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kDeadlineExceeded,
  kResourceExhausted,
  kInternal,
  kUnauthenticated,
  kPermissionDenied,
  kUnimplemented,
};

/// Stable lower-case name of a code, as used in logs and JSON ("invalid_argument").
std::string_view StatusCodeName(StatusCode code);

/// The outcome of an operation: OK, or a code plus a human-readable message.
/// A value type; safe to copy and to use from any thread.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) {
    return {StatusCode::kDeadlineExceeded, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) {
    return {StatusCode::kUnauthenticated, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }
  static Status Unimplemented(std::string msg) {
    return {StatusCode::kUnimplemented, std::move(msg)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  /// "OK" or "<code name>: <message>".
  std::string ToString() const;

  /// A copy with `context` prepended to the message ("endpoint 127.0.0.1:2379: ...").
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

/// Either a value of type T or a non-OK Status (like absl::StatusOr).
template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit on purpose, so functions can `return value;` or `return Status::NotFound(...)`.
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).ok() && "a Result must not hold an OK status without value");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }

  /// The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(data_); }

  /// The value. Calling these on an error is a programming bug (asserted).
  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }
  /// The value, or `fallback` on an error.
  T value_or(T fallback) const& { return ok() ? std::get<T>(data_) : std::move(fallback); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace etcdmon

namespace etcdmon {

/// A system call's failure as a Status: "<context>: <strerror(err)>", NotFound for ENOENT and
/// ENOTDIR, PermissionDenied for EACCES and EPERM, ResourceExhausted for ENOSPC, else Internal.
Status StatusFromErrno(int err, std::string_view context);

}  // namespace etcdmon

/// Returns the Status of `expr` from the enclosing function when it is not OK.
#define ETCDMON_RETURN_IF_ERROR(expr)               \
  do {                                              \
    ::etcdmon::Status etcdmon_status_tmp_ = (expr); \
    if (!etcdmon_status_tmp_.ok()) {                \
      return etcdmon_status_tmp_;                   \
    }                                               \
  } while (false)
