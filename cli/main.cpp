// etcd-monitor: the all-in-one monitor and the operator commands (ctl, benchmark, keygen).
#include <iostream>

#include "etcdmon/cli/app.h"

int main(int argc, char** argv) {
  return etcdmon::cli::RunEtcdMonitor(argc, argv, std::cout, std::cerr);
}
