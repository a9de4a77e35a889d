// The SMTP sink itself, driven by a raw client: the commands a library client may not use
// (HELO, AUTH LOGIN, RSET, NOOP), dot-unstuffing, and refusals.

#include "etcdmon/testing/smtp_sink.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace etcdmon::testing {
namespace {

// A line-oriented SMTP client over a blocking loopback socket.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval timeout{30, 0};  // a bound, so that a broken sink fails the test instead of hanging
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawClient() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  bool connected() const { return connected_; }

  // Reads one reply (all its lines) and returns its last line.
  std::string Reply() {
    for (;;) {
      const std::size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        if (line.size() < 4 || line[3] != '-') {
          return line;
        }
        continue;
      }
      char chunk[1024];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        return "(closed)";
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  std::string Command(const std::string& line) {
    const std::string out = line + "\r\n";
    if (send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      return "(send failed)";
    }
    return Reply();
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// A whole session: HELO, AUTH LOGIN, a transaction reset by RSET, then one message whose
// dot-stuffed lines are unstuffed.
TEST(SmtpSinkTest, SessionWithAuthLoginRsetAndDots) {
  SmtpSinkOptions options;
  options.username = "user";
  options.password = "pass";
  SmtpSink sink(options);
  ASSERT_TRUE(sink.Start().ok());
  RawClient client(sink.port());
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.Reply().substr(0, 3), "220");
  EXPECT_EQ(client.Command("HELO client").substr(0, 3), "250");
  EXPECT_EQ(client.Command("MAIL FROM:<a@example.com>").substr(0, 3), "530");  // AUTH first
  EXPECT_EQ(client.Command("AUTH LOGIN").substr(0, 3), "334");
  EXPECT_EQ(client.Command("dXNlcg==").substr(0, 3), "334");  // "user"
  EXPECT_EQ(client.Command("cGFzcw==").substr(0, 3), "235");  // "pass"
  EXPECT_EQ(client.Command("MAIL FROM:<a@example.com>").substr(0, 3), "250");
  EXPECT_EQ(client.Command("RCPT TO:<dropped@example.com>").substr(0, 3), "250");
  EXPECT_EQ(client.Command("RSET").substr(0, 3), "250");
  EXPECT_EQ(client.Command("DATA").substr(0, 3), "503");  // the reset dropped the recipient
  EXPECT_EQ(client.Command("NOOP").substr(0, 3), "250");
  EXPECT_EQ(client.Command("MAIL FROM:<a@example.com> SIZE=100").substr(0, 3), "250");
  EXPECT_EQ(client.Command("RCPT TO:<b@example.com>").substr(0, 3), "250");
  EXPECT_EQ(client.Command("DATA").substr(0, 3), "354");
  EXPECT_EQ(client.Command("Subject: s\r\n\r\n..starts with a dot\r\nplain\r\n.").substr(0, 3),
            "250");
  EXPECT_EQ(client.Command("QUIT").substr(0, 3), "221");

  ASSERT_TRUE(sink.WaitForMessages(1));
  const auto messages = sink.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].mail_from, "a@example.com");
  EXPECT_EQ(messages[0].rcpt_to, (std::vector<std::string>{"b@example.com"}));
  EXPECT_EQ(messages[0].auth_user, "user");
  EXPECT_FALSE(messages[0].tls);
  EXPECT_EQ(messages[0].Header("subject"), "s");
  EXPECT_EQ(messages[0].Body(), ".starts with a dot\r\nplain\r\n");
  const auto commands = sink.commands();
  EXPECT_NE(std::find(commands.begin(), commands.end(), "AUTH LOGIN"), commands.end());
  for (const std::string& c : commands) {
    EXPECT_EQ(c.find("cGFzcw"), std::string::npos) << c;  // credentials are not recorded
  }
}

// Wrong credentials are refused and counted; AUTH PLAIN with the right ones works.
TEST(SmtpSinkTest, AuthPlainChecksCredentials) {
  SmtpSinkOptions options;
  options.username = "user";
  options.password = "pass";
  SmtpSink sink(options);
  ASSERT_TRUE(sink.Start().ok());
  RawClient client(sink.port());
  ASSERT_TRUE(client.connected());
  client.Reply();
  EXPECT_EQ(client.Command("EHLO client").substr(0, 3), "250");
  EXPECT_EQ(client.Command("AUTH PLAIN AHVzZXIAd3Jvbmc=").substr(0, 3), "535");  // user/wrong
  EXPECT_EQ(sink.auth_failures(), 1u);
  EXPECT_EQ(client.Command("AUTH PLAIN AHVzZXIAcGFzcw==").substr(0, 3), "235");  // user/pass
  EXPECT_EQ(client.Command("STARTTLS").substr(0, 3), "502");  // no certificate configured
}

// Stop() ends sessions that are idle or hanging after DATA.
TEST(SmtpSinkTest, StopEndsHangingSessions) {
  SmtpSink sink;
  ASSERT_TRUE(sink.Start().ok());
  sink.SetHangAfterData(true);
  RawClient client(sink.port());
  ASSERT_TRUE(client.connected());
  client.Reply();
  client.Command("HELO c");
  client.Command("MAIL FROM:<a@b.c>");
  client.Command("RCPT TO:<d@e.f>");
  client.Command("DATA");
  RawClient idle(sink.port());
  sink.Stop();
  sink.Stop();
  EXPECT_TRUE(sink.messages().empty());
}

}  // namespace
}  // namespace etcdmon::testing
