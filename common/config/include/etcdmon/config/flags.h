#pragma once

// Command-line flags and environment variables, parsed once into the plain structs of types.h.
//
// Parsing happens in two steps. CLI11 first reads raw strings (a flag beats its environment
// variable); a Build() step then turns them into typed structs, checking every value and
// collecting every problem, so that a user sees all bad flags at once, one line each:
//
//   error: --dial-timeout "5x": unknown unit "x" (use ns, us, ms, s, m or h)
//   error: env API_PORT "0": out of range 1..65535
//
// ParseCommandLine() runs both steps, prints help or errors, and tells main() what to return.
//
// All of this runs once, on main()'s thread, before other threads start: none of these classes
// is safe for concurrent use, and Build() reads environment variables (ETCD_PASSWORD).

#include <cassert>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "etcdmon/config/exit_codes.h"
#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace etcdmon::config {

// kExitUsage, the exit code of a binary whose command line is wrong, is in exit_codes.h.

/// Parses a boolean as flags and environment variables spell it: true/false, 1/0 or yes/no, in
/// any case. Errors name the input: `invalid boolean "maybe": want true, false, 1, 0, yes or no`.
Result<bool> ParseBool(std::string_view text);

/// Reads a secret (password, token, routing key) from a file: at most 4 KiB, one line (a
/// trailing line break is stripped, as `echo secret > file` leaves one), not empty. Errors say
/// why without the content. A file that group or others can read is used, with a warning
/// (files::CheckSecretFile, reported through WarnAboutCommandLine).
Result<std::string> ReadSecretFile(const std::string& path);

/// Records a warning about the configuration: a secret given on the command line (where `ps`
/// shows it to every local user), a secret file that others can read. One line, naming the flag
/// or file and the safer form, never the secret. ParseCommandLine() prints each distinct warning
/// once, as `warning: <line>` on `err`, when the command line is accepted.
void WarnAboutCommandLine(std::string line);

/// Parses an endpoint within a flag's value (`--member-data-dir=ENDPOINT=DIR`): as
/// ParseEndpoint(), but the error is the reason alone ("missing port"), for
/// FlagValue::ValueError() to name the flag and the whole value.
Result<Endpoint> ParseEndpointOfValue(std::string_view text);

/// The problems found by a Build() step, one line each, so that all are reported together.
/// Single-threaded.
class FlagErrors {
 public:
  void Add(std::string line);
  /// Adds each line of a non-OK status' message; nothing for OK.
  void Add(const Status& status);

  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }

  /// OK when empty; otherwise InvalidArgument whose message is the lines joined by '\n'.
  Status ToStatus() const;

 private:
  std::vector<std::string> lines_;
};

/// One option of a command line, optionally backed by an environment variable; the flag beats
/// the variable (CLI11's envname).
///
/// It keeps no value of its own: the CLI::App keeps the raw text, and the As*() accessors parse
/// it after the App has parsed argv. A bad value adds one line to `errors` naming the flag (or
/// the variable that supplied it) and the value; the accessor then returns a zero value that the
/// caller must not use, having checked `errors`. Empty environment variables count as unset.
///
/// The CLI::App owns the registered option and must outlive this object. Copying is cheap.
class FlagValue {
 public:
  /// Registers `--<name> <value>` (also `--<name>=<value>`). `env` may be empty. The default
  /// applies when neither the flag nor the variable is set, and shows in --help, as does
  /// `type_name` ("DURATION", "FILE").
  static FlagValue AddOption(CLI::App& app, const std::string& name, const std::string& env,
                             const std::string& default_value, const std::string& help,
                             const std::string& type_name = "VALUE");

  /// Registers an option that may be given several times (`--<name> a --<name> b`), without
  /// a variable or default; values() has every occurrence, raw() the last.
  static FlagValue AddRepeatedOption(CLI::App& app, const std::string& name,
                                     const std::string& help,
                                     const std::string& type_name = "VALUE");

  /// Registers a boolean switch: `--<name>` alone means true; `--<name>=false` also works, and so
  /// does the variable with any value ParseBool() accepts.
  static FlagValue AddSwitch(CLI::App& app, const std::string& name, const std::string& env,
                             bool default_value, const std::string& help);

  /// "--<name>".
  const std::string& flag() const { return flag_; }
  /// The environment variable's name; empty when there is none.
  const std::string& env() const { return env_; }

  /// True when the flag or its variable gave a value.
  bool given() const;
  /// The flag's text, else the variable's, else the default.
  std::string raw() const;
  /// Every value given, in order (AddRepeatedOption); empty when none was.
  std::vector<std::string> values() const;
  /// `--name`, or `env NAME` when the value is the variable's: the start of an error line.
  /// (When the flag repeats the variable's exact value, the variable is named.)
  std::string Source() const;
  /// `<Source()> "<raw>": <reason>`. Not for secrets: it prints the value.
  std::string Error(std::string_view reason) const;
  /// `<Source()> "<value>": <reason>`, for one of values() or a part of raw(). Not for
  /// secrets.
  std::string ValueError(std::string_view value, std::string_view reason) const;

  /// The raw text, unchecked.
  std::string AsString() const { return raw(); }
  /// The raw text, which must not be empty.
  std::string AsNonEmpty(FlagErrors& errors) const;
  bool AsBool(FlagErrors& errors) const;
  /// A Go-style duration (ParseDuration), zero allowed.
  std::chrono::milliseconds AsDuration(FlagErrors& errors) const;
  /// A Go-style duration of at least 1ms: intervals and timeouts.
  std::chrono::milliseconds AsPositiveDuration(FlagErrors& errors) const;
  /// A decimal integer in [min, max].
  int64_t AsInt(FlagErrors& errors, int64_t min, int64_t max) const;
  /// One of `choices`, compared ignoring case; returned as spelled in `choices`.
  std::string AsChoice(FlagErrors& errors, std::initializer_list<std::string_view> choices) const;
  /// The path of an existing, readable regular file; "" when the flag is not given.
  std::string AsReadableFile(FlagErrors& errors) const;
  /// AsReadableFile() for a private key (TLS key): also an error when group or others can read
  /// it (files::CheckSecretFile).
  std::string AsPrivateKeyFile(FlagErrors& errors) const;

 private:
  FlagValue(CLI::Option* option, std::string flag, std::string env, std::string default_value);

  CLI::Option* option_;  // owned by the CLI::App; never null
  std::string flag_;     // "--name"
  std::string env_;
  std::string default_;
};

/// How to reach etcd, for every binary that talks to it (collector, benchmark, ctl):
///   --endpoints (ENDPOINTS, default localhost:2379, comma-separated), --dial-timeout
///   (DIAL_TIMEOUT, 5s), --command-timeout (5s), --cacert (CA_FILE), --cert (CERT_FILE),
///   --key (KEY_FILE), --insecure-skip-tls-verify (INSECURE_SKIP_TLS), --user (ETCD_USER,
///   `name` or `name:password`), --password-file; ETCD_PASSWORD holds a password too.
///
/// Build() checks that there is at least one endpoint (unless they are optional: then the
/// default is none and an empty list means "no etcd"), that --cert and --key come together,
/// that named files are readable (--key by its owner only), and that a user has exactly one
/// password source (in order: `name:password`, --password-file, ETCD_PASSWORD). No error line
/// ever contains a password. A password in --user (not in ETCD_USER) is a warning
/// (WarnAboutCommandLine).
class ConnectionFlags {
 public:
  enum class Endpoints { kRequired, kOptional };

  /// Registers the flags on `app`, which must outlive this object. `endpoints_help`, when not
  /// empty, replaces the help text of --endpoints.
  explicit ConnectionFlags(CLI::App& app, Endpoints endpoints = Endpoints::kRequired,
                           const std::string& endpoints_help = "");

  /// Every problem, one line each, as InvalidArgument.
  Result<EtcdConnectionConfig> Build() const;

  /// True when --endpoints or ENDPOINTS gave the endpoints (rather than the default).
  bool endpoints_given() const { return endpoints_.given(); }

 private:
  bool endpoints_required_;
  FlagValue endpoints_;
  FlagValue dial_timeout_;
  FlagValue command_timeout_;
  FlagValue cacert_;
  FlagValue cert_;
  FlagValue key_;
  FlagValue insecure_skip_tls_verify_;
  FlagValue user_;
  FlagValue password_file_;
};

/// --log-level (LOG_LEVEL: trace, debug, info, warn, error, critical, off; default info) and
/// --log-format (LOG_FORMAT: text or json; default text). Values are accepted in any case.
class LogFlags {
 public:
  /// Registers the flags on `app`, which must outlive this object.
  explicit LogFlags(CLI::App& app);

  Result<LogConfig> Build() const;

 private:
  FlagValue level_;
  FlagValue format_;
};

/// The quickstart's alert thresholds: --max-latency-ms (1..3600000, default 100),
/// --max-db-size-mb (1..1048576, default 8192), --min-available-nodes (1..1000; not given: 0,
/// the quorum size of the current voting members),
/// --max-leader-changes (0..1000000, default 3). Shared by the alerter and the all-in-one binary.
class AlertThresholdFlags {
 public:
  /// Registers the flags on `app`, which must outlive this object.
  explicit AlertThresholdFlags(CLI::App& app);

  Result<AlertThresholds> Build() const;

 private:
  FlagValue max_latency_ms_;
  FlagValue max_db_size_mb_;
  FlagValue min_available_nodes_;
  FlagValue max_leader_changes_;
};

/// What ParseCommandLine() ended with. Either ok(): run with value(); or not: main() returns
/// exit_code(), the help text or the `error: ...` lines having been written already.
template <typename T>
class [[nodiscard]] ParseResult {
 public:
  static ParseResult Run(T config) {
    ParseResult result;
    result.config_ = std::move(config);
    return result;
  }
  /// `exit_code` 0 with an OK status after --help; kExitUsage with the errors otherwise.
  static ParseResult Exit(int exit_code, Status status) {
    ParseResult result;
    result.exit_code_ = exit_code;
    result.status_ = std::move(status);
    return result;
  }

  bool ok() const { return config_.has_value(); }
  /// 0 when ok() or after --help; kExitUsage after an error.
  int exit_code() const { return exit_code_; }
  /// The errors, one per line; OK when ok() or after --help.
  const Status& status() const { return status_; }

  /// The config. Calling these when !ok() is a programming bug (asserted).
  T& value() & {
    assert(ok());
    return *config_;
  }
  const T& value() const& {
    assert(ok());
    return *config_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*config_);
  }

 private:
  ParseResult() = default;

  std::optional<T> config_;
  int exit_code_ = 0;
  Status status_;
};

namespace detail {

enum class ParseStep { kRun, kExitOk, kUsageError };

// app.parse() with CLI11's exceptions turned into text: help on `out`, one `error:` line on
// `err` (the error is also stored in `*error`).
ParseStep ParseArgs(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                    std::ostream& err, Status* error);

// Writes each line of `status` as `error: <line>`.
void PrintErrors(const Status& status, std::ostream& err);

// Writes the warnings recorded by WarnAboutCommandLine() since the last call, each distinct
// line once, as `warning: <line>`, and forgets them (`err` null: only forgets them).
void PrintWarnings(std::ostream* err);

template <typename R>
struct ResultValue;
template <typename T>
struct ResultValue<Result<T>> {
  using type = T;
};

}  // namespace detail

/// Parses `argv` into the flags registered on `app`, then calls `build` (a callable returning
/// Result<T>, typically a Build() that reports every problem at once).
///
/// --help writes the help text to `out` (exit code 0). Any CLI11 error (unknown flag, missing
/// value) and every line of a failed `build` are written to `err` as `error: <line>` (exit code
/// kExitUsage). Never exits the process and never throws, so tests can call it. In main():
///
///   CLI::App app{"etcd-monitor-collector: samples etcd members"};
///   etcdmon::config::ConnectionFlags etcd(app);
///   auto cli = etcdmon::config::ParseCommandLine(app, argc, argv, [&] { return etcd.Build(); });
///   if (!cli.ok()) return cli.exit_code();
template <typename BuildFn>
auto ParseCommandLine(CLI::App& app, int argc, const char* const* argv, BuildFn&& build,
                      std::ostream& out = std::cout, std::ostream& err = std::cerr)
    -> ParseResult<typename detail::ResultValue<std::invoke_result_t<BuildFn&>>::type> {
  using T = typename detail::ResultValue<std::invoke_result_t<BuildFn&>>::type;
  Status error;
  switch (detail::ParseArgs(app, argc, argv, out, err, &error)) {
    case detail::ParseStep::kExitOk:
      return ParseResult<T>::Exit(0, Status::Ok());
    case detail::ParseStep::kUsageError:
      return ParseResult<T>::Exit(kExitUsage, std::move(error));
    case detail::ParseStep::kRun:
      break;
  }
  detail::PrintWarnings(nullptr);  // only this command line's warnings
  Result<T> config = build();
  if (!config.ok()) {
    detail::PrintWarnings(nullptr);
    detail::PrintErrors(config.status(), err);
    return ParseResult<T>::Exit(kExitUsage, config.status());
  }
  detail::PrintWarnings(&err);
  return ParseResult<T>::Run(std::move(config).value());
}

}  // namespace etcdmon::config
