#pragma once
// Shared by the REST tests: a server over this process's jobs, an HTTP client on a real socket,
// and polling.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "rest/server.h"

namespace weir::resttest {

using nlohmann::json;

struct Served {
  explicit Served(rest::ServerOptions o = {}) {
    if (o.bind == "127.0.0.1:8081") o.bind = "127.0.0.1:0";
    server = std::make_unique<rest::Server>(rest::local_backend(), o);
    const auto colon = server->address().rfind(':');
    client = std::make_unique<httplib::Client>(server->address().substr(0, colon), std::stoi(server->address().substr(colon + 1)));
    client->set_read_timeout(30, 0);
  }
  json get(const std::string& path, int expect = 200) {
    auto r = client->Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, expect) << path << ": " << r->body;
    auto j = json::parse(r->body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << " is not JSON: " << r->body;
    return j;
  }
  httplib::Headers auth() const { return {{"Authorization", "Bearer " + server->token()}}; }
  std::unique_ptr<rest::Server> server;
  std::unique_ptr<httplib::Client> client;
};

/// Polls `f` every 20 ms for up to `seconds`; true once it holds.
inline bool eventually(const std::function<bool()>& f, int seconds = 30) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

}  // namespace weir::resttest
