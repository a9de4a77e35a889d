#include "etcdmon/config/flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>

#include "etcdmon/files/private_files.h"
#include "etcdmon/strings/strings.h"
#include "parse.h"

namespace etcdmon::config {

namespace {

using detail::Quote;

constexpr size_t kMaxPasswordFileBytes = 4096;

// WarnAboutCommandLine()'s lines, until PrintWarnings() takes them. Flags are parsed on main()'s
// thread before any other starts (see flags.h), so no lock.
std::vector<std::string>& PendingWarnings() {
  static std::vector<std::string> warnings;
  return warnings;
}

// Reads a variable the way CLI11 does: unset and empty are the same.
std::optional<std::string> GetEnv(const std::string& name) {
  if (name.empty()) {
    return std::nullopt;
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

// CLI11 messages are meant for one line; make sure of it.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
    if (c == ' ' && !out.empty() && out.back() == ' ') {
      continue;
    }
    out += c;
  }
  return std::string(strings::TrimAsciiWhitespace(out));
}

}  // namespace

Result<std::string> ReadSecretFile(const std::string& path) {
  const files::SecretFileCheck check = files::CheckSecretFile(path, files::SecretFileKind::kSecret);
  if (!check.warning.empty()) {
    WarnAboutCommandLine(check.warning);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read file: " + std::string(std::strerror(errno)));
  }
  std::string content;
  char buf[1024];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    content.append(buf, static_cast<size_t>(in.gcount()));
    if (content.size() > kMaxPasswordFileBytes) {
      return Status::InvalidArgument("larger than " + std::to_string(kMaxPasswordFileBytes) +
                                     " bytes; is it the right file?");
    }
  }
  if (!content.empty() && content.back() == '\n') {
    content.pop_back();
    if (!content.empty() && content.back() == '\r') {
      content.pop_back();
    }
  }
  if (content.empty()) {
    return Status::InvalidArgument("file is empty");
  }
  // A secret goes into a header or a protocol line: a line break inside would break it open.
  if (content.find_first_of("\r\n") != std::string::npos) {
    return Status::InvalidArgument("holds more than one line");
  }
  return content;
}

void WarnAboutCommandLine(std::string line) {
  std::vector<std::string>& warnings = PendingWarnings();
  if (std::find(warnings.begin(), warnings.end(), line) == warnings.end()) {
    warnings.push_back(std::move(line));
  }
}

Result<Endpoint> ParseEndpointOfValue(std::string_view text) {
  return detail::ParseEndpointReason(text);
}

Result<bool> ParseBool(std::string_view text) {
  const std::string lower = strings::AsciiToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") {
    return true;
  }
  if (lower == "false" || lower == "0" || lower == "no") {
    return false;
  }
  return Status::InvalidArgument("invalid boolean " + Quote(text) +
                                 ": want true, false, 1, 0, yes or no");
}

// FlagErrors -------------------------------------------------------------------------------

void FlagErrors::Add(std::string line) { lines_.push_back(std::move(line)); }

void FlagErrors::Add(const Status& status) {
  if (status.ok()) {
    return;
  }
  std::string_view rest = status.message();
  while (true) {
    const auto newline = rest.find('\n');
    Add(std::string(rest.substr(0, newline)));
    if (newline == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(newline + 1);
  }
}

Status FlagErrors::ToStatus() const {
  if (lines_.empty()) {
    return Status::Ok();
  }
  return Status::InvalidArgument(strings::Join(lines_, "\n"));
}

// FlagValue --------------------------------------------------------------------------------

FlagValue::FlagValue(CLI::Option* option, std::string flag, std::string env,
                     std::string default_value)
    : option_(option),
      flag_(std::move(flag)),
      env_(std::move(env)),
      default_(std::move(default_value)) {}

FlagValue FlagValue::AddOption(CLI::App& app, const std::string& name, const std::string& env,
                               const std::string& default_value, const std::string& help,
                               const std::string& type_name) {
  CLI::Option* option = app.add_option("--" + name, help);
  option->type_name(type_name);
  if (!default_value.empty()) {
    option->default_str(default_value);
  }
  if (!env.empty()) {
    option->envname(env);
  }
  return FlagValue(option, "--" + name, env, default_value);
}

FlagValue FlagValue::AddRepeatedOption(CLI::App& app, const std::string& name,
                                       const std::string& help, const std::string& type_name) {
  CLI::Option* option = app.add_option("--" + name, help);
  option->type_name(type_name)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  return FlagValue(option, "--" + name, "", "");
}

FlagValue FlagValue::AddSwitch(CLI::App& app, const std::string& name, const std::string& env,
                               bool default_value, const std::string& help) {
  const std::string description = help + " (default " + (default_value ? "true" : "false") + ")";
  CLI::Option* option = app.add_flag("--" + name, description);
  if (!env.empty()) {
    option->envname(env);
  }
  return FlagValue(option, "--" + name, env, default_value ? "true" : "false");
}

bool FlagValue::given() const { return option_->count() > 0; }

std::string FlagValue::raw() const {
  const CLI::results_t& results = option_->results();
  if (results.empty()) {
    return default_;
  }
  return results.back();
}

std::vector<std::string> FlagValue::values() const { return option_->results(); }

std::string FlagValue::Source() const {
  // CLI11 does not say where a value came from. The variable is only read when the flag is
  // absent, so a value equal to the variable's is the variable's, unless the flag repeated it.
  if (given()) {
    if (const std::optional<std::string> value = GetEnv(env_); value && *value == raw()) {
      return "env " + env_;
    }
  }
  return flag_;
}

std::string FlagValue::Error(std::string_view reason) const {
  return Source() + " " + Quote(raw()) + ": " + std::string(reason);
}

std::string FlagValue::ValueError(std::string_view value, std::string_view reason) const {
  return Source() + " " + Quote(value) + ": " + std::string(reason);
}

std::string FlagValue::AsNonEmpty(FlagErrors& errors) const {
  std::string value = raw();
  if (value.empty()) {
    errors.Add(Source() + ": must not be empty");
  }
  return value;
}

bool FlagValue::AsBool(FlagErrors& errors) const {
  const std::string value = raw();
  Result<bool> parsed = ParseBool(value);
  if (!parsed.ok()) {
    errors.Add(Error("want true, false, 1, 0, yes or no"));
    return false;
  }
  return *parsed;
}

std::chrono::milliseconds FlagValue::AsDuration(FlagErrors& errors) const {
  Result<std::chrono::nanoseconds> parsed = detail::ParseDurationReason(raw());
  if (!parsed.ok()) {
    errors.Add(Error(parsed.status().message()));
    return std::chrono::milliseconds(0);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
}

std::chrono::milliseconds FlagValue::AsPositiveDuration(FlagErrors& errors) const {
  Result<std::chrono::nanoseconds> parsed = detail::ParseDurationReason(raw());
  if (!parsed.ok()) {
    errors.Add(Error(parsed.status().message()));
    return std::chrono::milliseconds(0);
  }
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
  if (millis.count() <= 0) {
    errors.Add(Error("must be at least 1ms"));
    return std::chrono::milliseconds(0);
  }
  return millis;
}

int64_t FlagValue::AsInt(FlagErrors& errors, int64_t min, int64_t max) const {
  const std::string value = raw();
  std::string_view digits = value;
  if (!digits.empty() && digits.front() == '+') {
    digits.remove_prefix(1);  // from_chars takes '-' but not '+'
  }
  int64_t parsed = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, parsed);
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (ec == std::errc::result_out_of_range) {
    errors.Add(Error("out of range " + range));
    return 0;
  }
  if (digits.empty() || ec != std::errc() || ptr != end) {
    errors.Add(Error("not an integer"));
    return 0;
  }
  if (parsed < min || parsed > max) {
    errors.Add(Error("out of range " + range));
    return 0;
  }
  return parsed;
}

std::string FlagValue::AsChoice(FlagErrors& errors,
                                std::initializer_list<std::string_view> choices) const {
  const std::string value = strings::AsciiToLower(raw());
  std::string list;
  for (std::string_view choice : choices) {
    if (value == strings::AsciiToLower(choice)) {
      return std::string(choice);
    }
    list += list.empty() ? "" : ", ";
    list += choice;
  }
  errors.Add(Error("want one of " + list));
  return "";
}

std::string FlagValue::AsPrivateKeyFile(FlagErrors& errors) const {
  const std::string path = AsReadableFile(errors);
  if (path.empty()) {
    return path;
  }
  const files::SecretFileCheck check =
      files::CheckSecretFile(path, files::SecretFileKind::kPrivateKey);
  if (!check.status.ok()) {
    errors.Add(Source() + ": " + check.status.message());
    return "";
  }
  return path;
}

std::string FlagValue::AsReadableFile(FlagErrors& errors) const {
  if (!given()) {
    return default_;  // a default path, if any, is the caller's to check
  }
  const std::string path = raw();
  if (path.empty()) {
    errors.Add(Source() + ": empty path");
    return "";
  }
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    errors.Add(Error("no such file"));
    return "";
  }
  if (ec) {
    errors.Add(Error("cannot read file: " + ec.message()));
    return "";
  }
  if (status.type() == std::filesystem::file_type::directory) {
    errors.Add(Error("is a directory, not a file"));
    return "";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.Add(Error("cannot read file: " + std::string(std::strerror(errno))));
    return "";
  }
  return path;
}

// ConnectionFlags --------------------------------------------------------------------------

ConnectionFlags::ConnectionFlags(CLI::App& app, Endpoints endpoints,
                                 const std::string& endpoints_help)
    : endpoints_required_(endpoints == Endpoints::kRequired),
      endpoints_(FlagValue::AddOption(
          app, "endpoints", "ENDPOINTS", endpoints_required_ ? "localhost:2379" : "",
          !endpoints_help.empty() ? endpoints_help
                                  : "etcd client endpoints, comma-separated "
                                    "(host:port, http://host:port, https://host:port)",
          "LIST")),
      dial_timeout_(FlagValue::AddOption(app, "dial-timeout", "DIAL_TIMEOUT", "5s",
                                         "timeout for connecting to etcd", "DURATION")),
      command_timeout_(FlagValue::AddOption(app, "command-timeout", "", "5s",
                                            "deadline of each etcd request", "DURATION")),
      cacert_(FlagValue::AddOption(app, "cacert", "CA_FILE", "",
                                   "CA bundle to verify etcd's certificate (PEM)", "FILE")),
      cert_(FlagValue::AddOption(app, "cert", "CERT_FILE", "",
                                 "client certificate for etcd (PEM; needs --key)", "FILE")),
      key_(FlagValue::AddOption(app, "key", "KEY_FILE", "",
                                "client private key for etcd (PEM; needs --cert)", "FILE")),
      insecure_skip_tls_verify_(FlagValue::AddSwitch(app, "insecure-skip-tls-verify",
                                                     "INSECURE_SKIP_TLS", false,
                                                     "do not verify etcd's certificate")),
      user_(FlagValue::AddOption(app, "user", "ETCD_USER", "", "etcd user: name or name:password",
                                 "NAME[:PASSWORD]")),
      password_file_(FlagValue::AddOption(
          app, "password-file", "", "",
          "file holding the etcd user's password (ETCD_PASSWORD may hold it instead)", "FILE")) {}

Result<EtcdConnectionConfig> ConnectionFlags::Build() const {
  FlagErrors errors;
  EtcdConnectionConfig config;

  const std::string list = endpoints_.AsString();
  std::set<std::string> seen;
  std::string_view rest = list;
  bool any = false;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = strings::TrimAsciiWhitespace(rest.substr(0, comma));
    if (item.empty()) {
      if (comma != std::string_view::npos || any) {
        errors.Add(endpoints_.Error("empty item in the list"));
      }
    } else {
      any = true;
      Result<Endpoint> endpoint = detail::ParseEndpointReason(item);
      if (!endpoint.ok()) {
        errors.Add(endpoints_.Source() + " " + Quote(item) + ": " + endpoint.status().message());
      } else if (!seen.insert(endpoint->Url("")).second) {
        errors.Add(endpoints_.Source() + " " + Quote(item) + ": listed twice");
      } else {
        config.endpoints.push_back(*std::move(endpoint));
      }
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  if (!any && endpoints_required_) {
    errors.Add(endpoints_.Source() + ": at least one endpoint is required");
  }

  config.dial_timeout = dial_timeout_.AsPositiveDuration(errors);
  config.request_timeout = command_timeout_.AsPositiveDuration(errors);

  config.tls.ca_file = cacert_.AsReadableFile(errors);
  config.tls.cert_file = cert_.AsReadableFile(errors);
  config.tls.key_file = key_.AsPrivateKeyFile(errors);
  if (cert_.given() && !key_.given()) {
    errors.Add(cert_.Source() + ": a client certificate needs its key (--key or KEY_FILE)");
  }
  if (key_.given() && !cert_.given()) {
    errors.Add(key_.Source() + ": a client key needs its certificate (--cert or CERT_FILE)");
  }
  config.tls.insecure_skip_verify = insecure_skip_tls_verify_.AsBool(errors);

  // Authentication. The --user value may hold a password: no error line below prints it.
  const std::string password_file = password_file_.AsReadableFile(errors);
  const std::optional<std::string> env_password = GetEnv("ETCD_PASSWORD");
  if (user_.given()) {
    const std::string user = user_.AsString();
    const auto colon = user.find(':');
    config.username = user.substr(0, colon);
    if (config.username.empty()) {
      errors.Add(user_.Source() + ": empty user name");
    }
    if (colon != std::string::npos) {
      if (colon + 1 == user.size()) {
        errors.Add(user_.Source() + ": empty password after ':'");
      }
      if (password_file_.given()) {
        errors.Add(password_file_.Source() +
                   ": the password is also in --user name:password; give it once");
      }
      config.password = Secret(user.substr(colon + 1));
      if (user_.Source() == user_.flag()) {
        WarnAboutCommandLine(user_.flag() +
                             ": the etcd password is on the command line, where ps shows it to "
                             "every local user; give --password-file FILE or ETCD_PASSWORD");
      }
    } else if (password_file_.given()) {
      if (!password_file.empty()) {
        Result<std::string> password = ReadSecretFile(password_file);
        if (!password.ok()) {
          errors.Add(password_file_.Source() + " " + Quote(password_file) + ": " +
                     password.status().message());
        } else {
          config.password = Secret(*std::move(password));
        }
      }
    } else if (env_password) {
      config.password = Secret(*env_password);
    } else {
      errors.Add(user_.Source() + ": no password for user " + Quote(config.username) +
                 "; give name:password, --password-file or ETCD_PASSWORD");
    }
  } else {
    if (password_file_.given()) {
      errors.Add(password_file_.Source() + ": needs --user (or ETCD_USER)");
    }
    if (env_password) {
      errors.Add("env ETCD_PASSWORD: set, but no --user (or ETCD_USER) is given");
    }
  }

  if (!errors.empty()) {
    return errors.ToStatus();
  }
  return config;
}

// LogFlags ---------------------------------------------------------------------------------

LogFlags::LogFlags(CLI::App& app)
    : level_(FlagValue::AddOption(app, "log-level", "LOG_LEVEL", "info",
                                  "trace, debug, info, warn, error, critical or off", "LEVEL")),
      format_(FlagValue::AddOption(app, "log-format", "LOG_FORMAT", "text", "text or json",
                                   "FORMAT")) {}

Result<LogConfig> LogFlags::Build() const {
  FlagErrors errors;
  LogConfig config;
  config.level =
      level_.AsChoice(errors, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  config.format = format_.AsChoice(errors, {"text", "json"});
  if (!errors.empty()) {
    return errors.ToStatus();
  }
  return config;
}

AlertThresholdFlags::AlertThresholdFlags(CLI::App& app)
    : max_latency_ms_(FlagValue::AddOption(app, "max-latency-ms", "", "100",
                                           "alert when request latency exceeds this (ms)", "INT")),
      max_db_size_mb_(FlagValue::AddOption(app, "max-db-size-mb", "", "8192",
                                           "alert when the database exceeds this (MiB)", "INT")),
      min_available_nodes_(FlagValue::AddOption(
          app, "min-available-nodes", "", "",
          "alert (critical) when fewer voting members than this are available (default: the "
          "quorum size of the current voting members, so a 1-member cluster needs 1)",
          "INT")),
      max_leader_changes_(FlagValue::AddOption(
          app, "max-leader-changes", "", "3",
          "alert when the leader changes more often than this within the window", "INT")) {}

Result<AlertThresholds> AlertThresholdFlags::Build() const {
  FlagErrors errors;
  AlertThresholds thresholds;
  thresholds.max_latency = std::chrono::milliseconds(max_latency_ms_.AsInt(errors, 1, 3'600'000));
  thresholds.max_db_size_bytes =
      static_cast<uint64_t>(max_db_size_mb_.AsInt(errors, 1, 1024 * 1024)) * 1024 * 1024;
  // Not given: 0, the cluster's quorum size (AlertThresholds::min_available_nodes).
  thresholds.min_available_nodes =
      min_available_nodes_.given()
          ? static_cast<uint32_t>(min_available_nodes_.AsInt(errors, 1, 1000))
          : 0;
  thresholds.max_leader_changes =
      static_cast<uint32_t>(max_leader_changes_.AsInt(errors, 0, 1'000'000));
  if (!errors.empty()) {
    return errors.ToStatus();
  }
  return thresholds;
}

// Command line -----------------------------------------------------------------------------

namespace detail {
namespace {

// When the innermost command given takes commands of its own and a word on the line is none of
// them (`etcd-monitor ctl frobnicate`), or it needs one and got none (`etcd-monitor ctl`): a line
// naming the word and the valid commands, instead of CLI11's "A subcommand is required".
// Empty when that is not the problem.
std::string CommandWordError(CLI::App& app, std::string_view program) {
  CLI::App* current = &app;
  std::string path(program);
  while (true) {
    std::vector<CLI::App*> parsed = current->get_subcommands();
    if (parsed.empty()) {
      break;
    }
    current = parsed.front();
    path += " " + current->get_name();
  }
  std::vector<CLI::App*> all = current->get_subcommands([](CLI::App*) { return true; });
  if (all.empty()) {
    return "";
  }
  std::string valid;
  for (const CLI::App* sub : all) {
    valid += (valid.empty() ? "" : ", ") + sub->get_name();
  }
  // A fallthrough command hands words it does not know to its parents: look at them all.
  for (const std::string& word : app.remaining(/*recurse=*/true)) {
    if (!word.empty() && word[0] != '-') {
      return "unknown command \"" + word.substr(0, 64) + "\" for \"" + path +
             "\"; valid commands: " + valid;
    }
  }
  if (current->get_require_subcommand_min() > 0) {
    return "\"" + path + "\" needs a command: " + valid;
  }
  return "";
}

}  // namespace

ParseStep ParseArgs(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                    std::ostream& err, Status* error) {
  try {
    app.parse(argc, argv);
    return ParseStep::kRun;
  } catch (const CLI::Success& e) {
    app.exit(e, out, err);  // --help, --help-all, --version: the text goes to `out`
    return ParseStep::kExitOk;
  } catch (const CLI::ArgumentMismatch& e) {
    // CLI11 says "--api-port: 1 required VALUE missing" for `--api-port` without a value.
    std::string message = OneLine(e.what());
    const auto colon = message.find(": ");
    const std::string_view suffix = " missing";
    if (colon != std::string::npos && message.size() > suffix.size() &&
        message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0) {
      message = message.substr(0, colon) + ": missing value";
    }
    *error = Status::InvalidArgument(std::move(message));
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return ParseStep::kExitOk;  // a callback asked for a clean exit (CLI::RuntimeError(0))
    }
    const std::string program =
        argc > 0 ? std::filesystem::path(argv[0]).filename().string() : std::string("etcd-monitor");
    std::string command_error = CommandWordError(app, program);
    *error = Status::InvalidArgument(command_error.empty() ? OneLine(e.what())
                                                           : std::move(command_error));
  } catch (const std::exception& e) {
    *error = Status::InvalidArgument(OneLine(e.what()));
  }
  PrintErrors(*error, err);
  return ParseStep::kUsageError;
}

void PrintWarnings(std::ostream* err) {
  std::vector<std::string> warnings;
  warnings.swap(PendingWarnings());
  if (err == nullptr) {
    return;
  }
  for (const std::string& line : warnings) {
    *err << "warning: " << line << '\n';
  }
  err->flush();
}

void PrintErrors(const Status& status, std::ostream& err) {
  FlagErrors lines;
  lines.Add(status);
  for (const std::string& line : lines.lines()) {
    err << "error: " << line << '\n';
  }
  err.flush();
}

}  // namespace detail

}  // namespace etcdmon::config
