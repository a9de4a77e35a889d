#pragma once

// A fresh temporary directory per test, removed with everything in it afterwards.

#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::sqlite::testing {

using etcdmon::testing::TempDir;

}  // namespace etcdmon::sqlite::testing
