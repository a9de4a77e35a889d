#pragma once

// Environment variables for one test: the ones a parser reads are cleared for the test's
// lifetime, so the runner's environment cannot leak in, and restored afterwards.

#include <stdlib.h>

#include <cstddef>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

namespace etcdmon::testing {

/// Clears `names` on construction and puts every variable it touched (those and any Set() one)
/// back as it was on destruction. Not thread-safe: the environment is process-wide, so use it
/// only in tests that start no threads reading it.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::initializer_list<const char*> names) {
    for (const char* name : names) {
      Unset(name);
    }
  }
  template <std::size_t N>
  explicit ScopedEnv(const char* const (&names)[N]) {
    for (const char* name : names) {
      Unset(name);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value.has_value()) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void Set(const std::string& name, const std::string& value) {
    Save(name);
    setenv(name.c_str(), value.c_str(), 1);
  }
  void Unset(const std::string& name) {
    Save(name);
    unsetenv(name.c_str());
  }

 private:
  // Remembers the value from before the first change only.
  void Save(const std::string& name) {
    if (saved_.count(name) != 0) {
      return;
    }
    const char* value = getenv(name.c_str());
    saved_[name] = value != nullptr ? std::optional<std::string>(value) : std::nullopt;
  }

  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace etcdmon::testing
