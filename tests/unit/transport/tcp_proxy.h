#pragma once

// A loopback TCP proxy that can "freeze" its open connections: after Freeze(), bytes on the
// connections open at that moment are read and thrown away in both directions, and the sockets
// stay open, as on a path whose far end vanished without a FIN or RST. Connections accepted
// later are forwarded normally. Owns one thread (constructor to destructor).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace etcdmon::transport::testing {

class TcpProxy {
 public:
  /// Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`upstream_port`.
  explicit TcpProxy(uint16_t upstream_port) : upstream_port_(upstream_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listener_, 16) != 0) {
      ADD_FAILURE() << "proxy cannot listen";
    }
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    if (pipe(wake_) != 0) {
      ADD_FAILURE() << "pipe failed";
    }
    thread_ = std::thread([this] { Run(); });
  }

  ~TcpProxy() {
    stop_ = true;
    [[maybe_unused]] ssize_t n = write(wake_[1], "x", 1);
    thread_.join();
    for (const Link& link : links_) {
      close(link.client);
      close(link.upstream);
    }
    close(listener_);
    close(wake_[0]);
    close(wake_[1]);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  /// Freezes the connections open now; returns once the proxy thread has applied it.
  void Freeze() {
    freeze_requested_ = true;
    [[maybe_unused]] ssize_t n = write(wake_[1], "x", 1);
    while (freeze_requested_) {
      std::this_thread::yield();
    }
  }

  /// Connections accepted so far.
  int accepted() const { return accepted_; }

 private:
  struct Link {
    int client;
    int upstream;
    bool frozen;
    bool dead;
  };

  void Run() {
    char buffer[64 * 1024];
    while (!stop_) {
      if (freeze_requested_.exchange(false)) {
        for (Link& link : links_) {
          link.frozen = true;
        }
      }
      std::vector<pollfd> fds;
      std::vector<std::pair<std::size_t, int>> owners;  // (link index, side) of fds[2...]
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listener_, POLLIN, 0});
      for (std::size_t i = 0; i < links_.size(); ++i) {
        if (links_[i].dead) {
          continue;
        }
        fds.push_back({links_[i].client, POLLIN, 0});
        owners.emplace_back(i, 0);
        fds.push_back({links_[i].upstream, POLLIN, 0});
        owners.emplace_back(i, 1);
      }
      if (poll(fds.data(), fds.size(), 20) <= 0) {
        continue;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        char drain[16];
        [[maybe_unused]] ssize_t n = read(wake_[0], drain, sizeof(drain));
      }
      if ((fds[1].revents & POLLIN) != 0) {
        Accept();
      }
      for (std::size_t k = 0; k < owners.size(); ++k) {
        const pollfd& fd = fds[2 + k];
        Link& link = links_[owners[k].first];
        if (link.dead || (fd.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
          continue;
        }
        const ssize_t n = read(fd.fd, buffer, sizeof(buffer));
        if (n <= 0) {
          // One side closed. A live link passes that on by closing both; a frozen one stays
          // silent towards the other side, as a vanished path would.
          link.dead = true;
          if (!link.frozen) {
            shutdown(link.client, SHUT_RDWR);
            shutdown(link.upstream, SHUT_RDWR);
          }
          continue;
        }
        if (!link.frozen) {
          const int to = owners[k].second == 0 ? link.upstream : link.client;
          [[maybe_unused]] ssize_t w = write(to, buffer, static_cast<std::size_t>(n));
        }
      }
    }
  }

  void Accept() {
    const int client = accept(listener_, nullptr, nullptr);
    if (client < 0) {
      return;
    }
    const int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(upstream_port_);
    if (connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(client);
      close(upstream);
      return;
    }
    links_.push_back(Link{client, upstream, false, false});
    ++accepted_;
  }

  const uint16_t upstream_port_;
  int listener_ = -1;
  uint16_t port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<bool> freeze_requested_{false};
  std::atomic<int> accepted_{0};
  std::vector<Link> links_;  // owned by the proxy thread until it is joined
  std::thread thread_;
};

}  // namespace etcdmon::transport::testing
