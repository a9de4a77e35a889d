#pragma once

// A real browser for tests of the gateway's web pages: Debian's `chromium` in headless mode,
// run once per page load with a throwaway profile, bounded in time, its whole process group
// killed if it overruns. Tests assert on the DOM the page's script has built (or look at a
// screenshot by hand while working on the page).

#include <chrono>
#include <string>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

class HeadlessBrowser {
 public:
  /// The `chromium` binary on PATH (or the file named by ETCDMON_CHROMIUM); NotFound, with
  /// how to install it, when there is none.
  static Result<HeadlessBrowser> Find();

  /// Loads `url` and lets the page run for `virtual_time` of its own clock (timers fire and
  /// fetches complete within it, however slow the machine), then returns the serialized DOM.
  Result<std::string> DumpDom(const std::string& url, std::chrono::milliseconds virtual_time =
                                                          std::chrono::seconds(5)) const;

  /// The same, then writes a `width` x `height` PNG of the page to `png_path`.
  Status Screenshot(const std::string& url, const std::string& png_path, int width = 1280,
                    int height = 900,
                    std::chrono::milliseconds virtual_time = std::chrono::seconds(5)) const;

  /// The bound on one browser run (start, load, virtual time, exit); 60 s unless changed.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  const std::string& binary() const { return binary_; }

 private:
  explicit HeadlessBrowser(std::string binary) : binary_(std::move(binary)) {}
  /// Runs the browser with `args` plus the common headless flags and `url`: its stdout.
  Result<std::string> Run(const std::vector<std::string>& args, const std::string& url,
                          std::chrono::milliseconds virtual_time) const;

  std::string binary_;
  std::chrono::milliseconds timeout_ = std::chrono::seconds(60);
};

}  // namespace etcdmon::testing
