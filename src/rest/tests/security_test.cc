// The workspace server as a hostile client sees it: changes without the token, uploads outside
// their folder (Flink's CVE-2020-17518), reading files outside the log folder (CVE-2020-17519),
// oversized bodies, malformed JSON, where it binds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "rest/tests/rest_support.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using weir::resttest::json;
using weir::resttest::Served;

std::size_t files_under(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); ++it) {
    n += it->is_regular_file() ? 1 : 0;
  }
  return n;
}

TEST(RestSecurity, ChangingRoutesNeedTheToken) {
  Served s;
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"PATCH", "/jobs/abc?mode=cancel"}, {"POST", "/jobs/abc/savepoints"}, {"POST", "/jars/upload"},
      {"POST", "/jars/x/run"},            {"DELETE", "/jars/x"},           {"POST", "/v1/jobs/abc/savepoints"},
      {"PUT", "/jobs/abc"},               {"POST", "/anything/else"}};
  for (const auto& [method, path] : changes) {
    for (const httplib::Headers& h : {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer wrong"}},
                                      httplib::Headers{{"Authorization", s.server->token()}},  // no "Bearer "
                                      httplib::Headers{{"Authorization", "Bearer " + s.server->token() + "x"}}}) {
      httplib::Request req;
      req.method = method;
      req.path = path;
      req.headers = h;
      req.body = "{}";
      auto r = s.client->send(req);
      ASSERT_TRUE(r) << method << " " << path;
      EXPECT_EQ(r->status, 401) << method << " " << path << ": " << r->body;
      EXPECT_NE(r->body.find("token"), std::string::npos);
    }
  }
  // With the token the request gets through to the route (here: no such job).
  auto r = s.client->Patch("/jobs/abc?mode=cancel", s.auth(), "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // Reading needs no token.
  EXPECT_EQ(s.client->Get("/jobs/overview")->status, 200);
}

TEST(RestSecurity, UploadsAreOffUnlessAFolderIsGiven) {
  Served s;
  httplib::MultipartFormDataItems items = {{"jarfile", "print(1)\n", "job.py", "application/octet-stream"}};
  auto r = s.client->Post("/jars/upload", s.auth(), items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("--web-upload-dir"), std::string::npos);
}

TEST(RestSecurity, UploadedFilesStayInTheirFolder) {
  // CVE-2020-17518: Flink wrote an upload whose file name held "../" wherever it pointed.
  weir::testsupport::TempDir dir;
  const fs::path uploads = fs::path(dir.path()) / "uploads";
  weir::rest::ServerOptions o;
  o.upload_dir = uploads.string();
  Served s(o);
  const auto outside_before = files_under(dir.path());
  const std::vector<std::string> names = {"../evil.py", "../../../../../../tmp/weir-evil.py", "/tmp/weir-evil.py", "..", ".", "",
                                          ".hidden.py", "a/b.py", "..\\evil.py", std::string("a\0b.py", 6), "x\n.py"};
  for (const std::string& name : names) {
    httplib::MultipartFormDataItems items = {{"jarfile", "print(1)\n", name, "application/octet-stream"}};
    auto r = s.client->Post("/jars/upload", s.auth(), items);
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->status, 400) << "'" << name << "': " << r->body;
  }
  EXPECT_EQ(files_under(dir.path()), outside_before);
  EXPECT_FALSE(fs::exists("/tmp/weir-evil.py"));
  // Percent signs are not decoded in a file name: it is stored, inside the folder.
  httplib::MultipartFormDataItems items = {{"jarfile", "print(1)\n", "a%2f..%2f..%2fb.py", "application/octet-stream"}};
  auto r = s.client->Post("/jars/upload", s.auth(), items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const fs::path stored = json::parse(r->body)["filename"].get<std::string>();
  EXPECT_EQ(fs::weakly_canonical(stored).parent_path(), fs::weakly_canonical(uploads));
  EXPECT_TRUE(fs::exists(stored));
  // Listed, and runnable only by a server that can run programs (embedded: 501 with the reason).
  items = {{"jarfile", "print(2)\n", "job.py", "application/octet-stream"}};
  r = s.client->Post("/jars/upload", s.auth(), items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto jars = s.get("/jars");
  ASSERT_EQ(jars["files"].size(), 2u);
  std::string id;
  for (const auto& f : jars["files"]) {
    if (f["name"] == "job.py") id = f["id"];
  }
  ASSERT_FALSE(id.empty()) << jars.dump();
  const fs::path job = fs::path(o.upload_dir) / id;
  r = s.client->Post(("/jars/" + id + "/run").c_str(), s.auth(), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501) << r->body;
  // Running or deleting by a crafted id never leaves the folder.
  for (const std::string bad : {"..%2f..%2fetc%2fpasswd", "%2e%2e", "..", "%2fetc%2fpasswd"}) {
    r = s.client->Post(("/jars/" + bad + "/run").c_str(), s.auth(), "{}", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << bad << ": " << r->body;
    r = s.client->Delete(("/jars/" + bad).c_str(), s.auth());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << bad;
  }
  r = s.client->Delete(("/jars/" + id).c_str(), s.auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(fs::exists(job));
  EXPECT_TRUE(fs::exists(stored));
}

TEST(RestSecurity, LogFilesCannotBeReadOutsideTheLogFolder) {
  // CVE-2020-17519: Flink served any file for /jobmanager/logs/..%252f..%252fetc%252fpasswd.
  weir::testsupport::TempDir dir;
  const fs::path logs = fs::path(dir.path()) / "logs";
  fs::create_directories(logs);
  std::ofstream(logs / "coordinator.log") << "a log line\n";
  std::ofstream(fs::path(dir.path()) / "secret.txt") << "do not serve\n";
  weir::rest::ServerOptions o;
  o.log_dir = logs.string();
  Served s(o);
  auto r = s.client->Get("/jobmanager/logs/coordinator.log");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "a log line\n");
  const auto list = s.get("/jobmanager/logs");
  ASSERT_EQ(list["logs"].size(), 1u);
  EXPECT_EQ(list["logs"][0]["name"], "coordinator.log");
  for (const std::string path :
       {"/jobmanager/logs/..%252f..%252f..%252f..%252f..%252f..%252fetc%252fpasswd", "/jobmanager/logs/..%2f..%2f..%2fetc%2fpasswd",
        "/jobmanager/logs/../secret.txt", "/jobmanager/logs/..%2fsecret.txt", "/jobmanager/logs/%2e%2e%2fsecret.txt",
        "/jobmanager/logs/%2fetc%2fpasswd", "/v1/jobmanager/logs/..%252fsecret.txt", "/jobmanager/logs/.", "/jobmanager/logs/..",
        "/jobmanager/logs/coordinator.log%00.txt"}) {
    r = s.client->Get(path.c_str());
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path << ": " << r->body;
    EXPECT_EQ(r->body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(r->body.find("do not serve"), std::string::npos) << path;
  }
}

TEST(RestSecurity, OversizedBodiesGet413) {
  weir::testsupport::TempDir dir;
  weir::rest::ServerOptions o;
  o.upload_dir = dir.path() + "/uploads";
  o.max_upload_bytes = 4096;
  o.max_json_bytes = 512;
  Served s(o);
  httplib::MultipartFormDataItems items = {{"jarfile", std::string(100000, 'x'), "big.py", "application/octet-stream"}};
  auto r = s.client->Post("/jars/upload", s.auth(), items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(files_under(o.upload_dir), 0u);
  const std::string big = json{{"target-directory", std::string(2000, 'a')}}.dump();
  r = s.client->Post("/jobs/x/savepoints", s.auth(), big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  // Malformed JSON and wrong types get 400 with the reason.
  r = s.client->Post("/jobs/x/savepoints", s.auth(), "{not json", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("JSON"), std::string::npos);
  r = s.client->Post("/jobs/x/savepoints", s.auth(), "[1,2]", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST(RestSecurity, BindsToLoopbackUnlessTold) {
  EXPECT_EQ(weir::rest::ServerOptions{}.bind.rfind("127.0.0.1:", 0), 0u);
  Served s;
  EXPECT_EQ(s.server->address().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(s.server->url().find("#token=" + s.server->token()), s.server->url().size() - 7 - s.server->token().size());
  EXPECT_GE(s.server->token().size(), 32u);
  // A second server has its own random token.
  Served t;
  EXPECT_NE(s.server->token(), t.server->token());
  // An address that is not host:port is refused with the reason.
  weir::rest::ServerOptions bad;
  bad.bind = "nonsense";
  EXPECT_THROW(weir::rest::Server(weir::rest::local_backend(), bad), std::runtime_error);
}

TEST(RestSecurity, AServerStoppedRightAfterItStartsStops) {
  // Stopping before the listening thread has entered its loop must still end it (and the join).
  for (int i = 0; i < 200; ++i) {
    weir::rest::ServerOptions o;
    o.bind = "127.0.0.1:0";
    weir::rest::Server s(weir::rest::local_backend(), o);
    s.stop();
  }
  for (int i = 0; i < 50; ++i) {
    weir::rest::ServerOptions o;
    o.bind = "127.0.0.1:0";
    weir::rest::Server s(weir::rest::local_backend(), o);  // the destructor stops it
  }
}

}  // namespace
