#include "etcdmon/collector/host_probe.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace etcdmon::collector {
namespace {

// A temporary directory of the test's own, removed afterwards.
class HostProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/host_probe_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string WriteMeminfo(const std::string& text) {
    const std::string path = dir_ + "/meminfo";
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

// Total and available memory come from MemTotal and MemAvailable, in bytes.
TEST_F(HostProbeTest, ReadsMemAvailable) {
  auto probe =
      NewHostProbe(WriteMeminfo("MemTotal:        8041580 kB\n"
                                "MemFree:          512000 kB\n"
                                "MemAvailable:    6123456 kB\n"
                                "Buffers:          100000 kB\n"
                                "Cached:          2000000 kB\n"
                                "SwapCached:            0 kB\n"));
  Result<MemoryUsage> memory = probe->Memory();
  ASSERT_TRUE(memory.ok()) << memory.status().ToString();
  EXPECT_EQ(memory->total_bytes, 8041580ull * 1024);
  EXPECT_EQ(memory->available_bytes, 6123456ull * 1024);
}

// Kernels without MemAvailable: MemFree + Buffers + Cached (not SwapCached).
TEST_F(HostProbeTest, FallsBackWithoutMemAvailable) {
  auto probe =
      NewHostProbe(WriteMeminfo("MemTotal:        1000 kB\n"
                                "MemFree:          100 kB\n"
                                "Buffers:           20 kB\n"
                                "Cached:           300 kB\n"
                                "SwapCached:        99 kB\n"));
  Result<MemoryUsage> memory = probe->Memory();
  ASSERT_TRUE(memory.ok()) << memory.status().ToString();
  EXPECT_EQ(memory->available_bytes, 420u * 1024);
}

// Unreadable or unusable meminfo files are errors, not zeros.
TEST_F(HostProbeTest, BadMeminfoIsAnError) {
  const struct {
    const char* name;
    std::string path;
    StatusCode code;
  } cases[] = {
      {"missing file", dir_ + "/nope", StatusCode::kNotFound},
      {"no MemTotal", WriteMeminfo("MemFree: 1 kB\n"), StatusCode::kInternal},
      {"garbage", WriteMeminfo("MemTotal: lots\n"), StatusCode::kInternal},
      {"empty", WriteMeminfo(""), StatusCode::kInternal},
  };
  for (const auto& c : cases) {
    Result<MemoryUsage> memory = NewHostProbe(c.path)->Memory();
    ASSERT_FALSE(memory.ok()) << c.name;
    EXPECT_EQ(memory.status().code(), c.code) << c.name << ": " << memory.status().ToString();
  }
}

// The machine's own /proc/meminfo reads, with available below total.
TEST_F(HostProbeTest, ReadsProcMeminfo) {
  Result<MemoryUsage> memory = NewHostProbe()->Memory();
  ASSERT_TRUE(memory.ok()) << memory.status().ToString();
  EXPECT_GT(memory->total_bytes, 0u);
  EXPECT_GT(memory->available_bytes, 0u);
  EXPECT_LE(memory->available_bytes, memory->total_bytes);
}

// Disk usage of the file system holding a directory; a missing path is NotFound.
TEST_F(HostProbeTest, DiskUsageOfADirectory) {
  auto probe = NewHostProbe();
  Result<DiskUsage> disk = probe->Disk(dir_);
  ASSERT_TRUE(disk.ok()) << disk.status().ToString();
  EXPECT_GT(disk->total_bytes, 0u);
  EXPECT_LE(disk->used_bytes, disk->total_bytes);

  Result<DiskUsage> missing = probe->Disk(dir_ + "/missing/dir");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(dir_), std::string::npos);
}

}  // namespace
}  // namespace etcdmon::collector
