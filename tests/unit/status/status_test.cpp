#include "etcdmon/status/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>

namespace etcdmon {
namespace {

// A default Status is OK and prints as "OK".
TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

// Factories set the code; ToString names the code and keeps the message.
TEST(StatusTest, FactoriesSetCodeAndMessage) {
  struct Case {
    Status status;
    StatusCode code;
    std::string text;
  } cases[] = {
      {Status::InvalidArgument("bad"), StatusCode::kInvalidArgument, "invalid_argument: bad"},
      {Status::NotFound("x"), StatusCode::kNotFound, "not_found: x"},
      {Status::Unavailable("down"), StatusCode::kUnavailable, "unavailable: down"},
      {Status::DeadlineExceeded("slow"), StatusCode::kDeadlineExceeded, "deadline_exceeded: slow"},
      {Status::Unauthenticated("who"), StatusCode::kUnauthenticated, "unauthenticated: who"},
      {Status::ResourceExhausted("big"), StatusCode::kResourceExhausted, "resource_exhausted: big"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.text;
    EXPECT_EQ(c.status.code(), c.code) << c.text;
    EXPECT_EQ(c.status.ToString(), c.text);
  }
}

// WithContext prefixes the message and keeps the code; on OK it is a no-op.
TEST(StatusTest, WithContextPrefixesMessage) {
  Status s = Status::Unavailable("connection refused").WithContext("endpoint 127.0.0.1:2379");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "endpoint 127.0.0.1:2379: connection refused");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

// errno values map to the codes callers branch on, and the message keeps the context.
TEST(StatusTest, FromErrno) {
  EXPECT_EQ(StatusFromErrno(ENOENT, "open x").code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromErrno(ENOTDIR, "open x").code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromErrno(EACCES, "open x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromErrno(ENOSPC, "write x").code(), StatusCode::kResourceExhausted);
  Status io = StatusFromErrno(EIO, "read x");
  EXPECT_EQ(io.code(), StatusCode::kInternal);
  EXPECT_EQ(io.message().rfind("read x: ", 0), 0u) << io.message();
}

Status FailIf(bool fail) { return fail ? Status::Internal("boom") : Status::Ok(); }

Status Chain(bool fail, int* reached) {
  ETCDMON_RETURN_IF_ERROR(FailIf(fail));
  ++*reached;
  return Status::Ok();
}

// The macro returns early on error and falls through on OK.
TEST(StatusTest, ReturnIfErrorMacro) {
  int reached = 0;
  EXPECT_TRUE(Chain(false, &reached).ok());
  EXPECT_EQ(reached, 1);
  Status s = Chain(true, &reached);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(reached, 1);
}

// Result holds a value or an error, and moves out move-only values.
TEST(ResultTest, HoldsValueOrError) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().ok());

  Result<int> bad = Status::NotFound("nope");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);

  Result<std::unique_ptr<int>> owned = std::make_unique<int>(7);
  ASSERT_TRUE(owned.ok());
  std::unique_ptr<int> taken = std::move(owned).value();
  EXPECT_EQ(*taken, 7);
}

}  // namespace
}  // namespace etcdmon
