// The pure parts of client.h: range helpers, names, configuration checks.

#include <set>
#include <string>

#include "etcdmon/etcd/client.h"

namespace etcdmon::etcd {

std::string AlarmTypeName(AlarmType type) {
  switch (type) {
    case AlarmType::kNone:
      return "none";
    case AlarmType::kNoSpace:
      return "nospace";
    case AlarmType::kCorrupt:
      return "corrupt";
  }
  return "unknown(" + std::to_string(static_cast<int>(type)) + ")";
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  for (size_t i = end.size(); i > 0; --i) {
    unsigned char c = static_cast<unsigned char>(end[i - 1]);
    if (c < 0xff) {
      end[i - 1] = static_cast<char>(c + 1);
      end.resize(i);
      return end;
    }
  }
  // Every byte is 0xff (or there is none): no key is greater than all keys with this prefix,
  // so ask for everything from the prefix on.
  return std::string(1, '\0');
}

Status ValidateConnectionConfig(const config::EtcdConnectionConfig& config) {
  std::string errors;
  auto add = [&errors](const std::string& error) {
    if (!errors.empty()) {
      errors += "; ";
    }
    errors += error;
  };
  if (config.endpoints.empty()) {
    add("no etcd endpoint configured");
  }
  std::set<std::string> seen;
  for (const config::Endpoint& e : config.endpoints) {
    const std::string authority = e.Authority();
    if (e.host.empty()) {
      add("endpoint \"" + authority + "\": empty host");
    }
    if (e.port == 0) {
      add("endpoint \"" + authority + "\": port 0");
    }
    if (!e.scheme.empty() && e.scheme != "http" && e.scheme != "https") {
      add("endpoint \"" + authority + "\": unsupported scheme \"" + e.scheme +
          "\" (use http or https)");
    }
    if (!seen.insert(authority).second) {
      add("endpoint \"" + authority + "\" listed twice");
    }
  }
  if (config.dial_timeout.count() <= 0) {
    add("dial timeout must be positive");
  }
  if (config.request_timeout.count() <= 0) {
    add("request timeout must be positive");
  }
  if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
    add("TLS client certificate and key must be given together (cert_file=\"" +
        config.tls.cert_file + "\", key_file=\"" + config.tls.key_file + "\")");
  }
  if (config.username.empty() && !config.password.empty()) {
    add("an etcd password is set without a user name");
  }
  if (errors.empty()) {
    return Status::Ok();
  }
  return Status::InvalidArgument("invalid etcd connection config: " + errors);
}

}  // namespace etcdmon::etcd
