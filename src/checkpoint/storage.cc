#include "checkpoint/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <tuple>
#include <tuple>

#include <xxhash.h>

#include "weir/common/fault_point.hpp"

namespace weir::checkpoint {
namespace fs = std::filesystem;

namespace {
constexpr std::string_view kMetaMagic = "WEIRCKPT";
constexpr std::string_view kStateMagic = "WEIRSTAT";

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
  throw StateError(what + " '" + path + "': " + std::strerror(errno));
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) fail_errno("cannot open for fsync", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail_errno("cannot fsync", path);
}

void write_header(std::string& out, std::string_view magic) {
  out.append(magic);
  ByteWriter w(out);
  w.write_fixed(kFormatVersion);
}

std::string_view check_header(std::string_view bytes, std::string_view magic, const std::string& path,
                              uint32_t* version_out = nullptr) {
  if (bytes.size() < magic.size() + 4 || bytes.substr(0, magic.size()) != magic) {
    throw StateError("'" + path + "' is not a Weir checkpoint file (bad magic)");
  }
  ByteReader r(bytes.substr(magic.size(), 4));
  const auto version = r.read_fixed<uint32_t>();
  if (version < kOldestReadableVersion || version > kFormatVersion) {
    throw StateError("'" + path + "' has format version " + std::to_string(version) + "; this Weir reads versions " +
                     std::to_string(kOldestReadableVersion) + " to " + std::to_string(kFormatVersion));
  }
  if (version_out) *version_out = version;
  return bytes.substr(magic.size() + 4);
}

Metadata from_v1(format1::Metadata v1) {
  Metadata m;
  m.version = 1;
  m.checkpoint_id = v1.checkpoint_id;
  m.timestamp = v1.timestamp;
  m.savepoint = v1.savepoint;
  m.job_name = std::move(v1.job_name);
  m.backend = std::move(v1.backend);
  m.shared_dir = std::move(v1.shared_dir);
  for (auto& o : v1.operators) {
    OperatorMeta op{std::move(o.uid), std::move(o.name), o.parallelism, o.max_parallelism, {}};
    for (auto& st : o.subtasks) {
      op.subtasks.push_back(SubtaskMeta{st.subtask, st.first_key_group, st.last_key_group, std::move(st.file),
                                        std::move(st.kv_files), st.keyed_bytes, st.keyed_records, st.keys,
                                        std::move(st.state_names), {}});
    }
    m.operators.push_back(std::move(op));
  }
  return m;
}
}  // namespace

uint64_t checksum(std::string_view bytes) { return XXH64(bytes.data(), bytes.size(), 0); }

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw StateError("cannot create directory '" + path + "': " + ec.message());
}

void remove_all(const std::string& path) noexcept {
  std::error_code ec;
  fs::remove_all(path, ec);
}

void write_file_atomic(const std::string& path, std::string_view data) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp = path + ".tmp-" + std::to_string(rng());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno("cannot create", tmp);
  std::size_t done = 0;
  // The checkpoint file system's fault points: a failed or torn write, a failed fsync, a
  // failed rename. Each leaves what the real failure would (a partial temporary file).
  try {
    fault_point("fs.write");
    fault_point("fs.torn_write");
  } catch (const InjectedFault&) {
    (void)!::write(fd, data.data(), data.size() / 2);
    ::close(fd);
    throw;
  }
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = e;
      fail_errno("cannot write", tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  try {
    fault_point("fs.fsync");
  } catch (const InjectedFault&) {
    ::close(fd);
    throw;
  }
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    fail_errno("cannot fsync", tmp);
  }
  ::close(fd);
  fault_point("fs.rename");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    fail_errno("cannot rename into place", path);
  }
  fsync_path(fs::path(path).parent_path().string(), true);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StateError("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw StateError("cannot read '" + path + "'");
  return std::move(ss).str();
}

std::string encode_state_file(const runtime::OperatorSnapshot& snap) {
  std::string out;
  write_header(out, kStateMagic);
  ByteWriter w(out);
  w.write_varint(snap.key_groups.size());
  for (const auto& [kg, bytes] : snap.key_groups) {
    w.write_varint(static_cast<uint64_t>(kg));
    w.write_varint(bytes.size());
    w.write_bytes(bytes.data(), bytes.size());
  }
  w.write_varint(snap.lists.size());
  for (const auto& l : snap.lists) {
    Serde<std::string>::write(w, l.name);
    w.write_u8(static_cast<uint8_t>(l.mode));
    Serde<std::vector<std::string>>::write(w, l.elements);
  }
  for (const auto* states : {&snap.inflight_in, &snap.inflight_out}) {
    w.write_varint(states->size());
    for (const auto& cs : *states) {
      w.write_fixed(cs.partition);
      w.write_fixed(cs.channel);
      w.write_varint(cs.events.size());
      for (const auto& e : cs.events) {
        w.write_u8(e.kind);
        w.write_fixed(e.value);
        Serde<std::string>::write(w, e.bytes);
      }
    }
  }
  return out;
}

void decode_state_file(std::string_view bytes, std::map<int, std::string>& key_groups,
                       std::vector<runtime::OperatorList>& lists, std::vector<runtime::ChannelState>* inflight_in,
                       std::vector<runtime::ChannelState>* inflight_out) {
  const std::string_view body = check_header(bytes, kStateMagic, "state file");
  try {
    ByteReader r(body);
    for (uint64_t n = r.read_varint(); n > 0; --n) {
      const auto kg = static_cast<int>(r.read_varint());
      const auto len = r.read_varint();
      key_groups[kg].append(r.read_view(len));
    }
    for (uint64_t n = r.read_varint(); n > 0; --n) {
      runtime::OperatorList l;
      l.name = Serde<std::string>::read(r);
      const uint8_t mode = r.read_u8();
      if (mode > 1) throw StateError("state file: unknown redistribution mode " + std::to_string(mode));
      l.mode = static_cast<runtime::Redistribution>(mode);
      l.elements = Serde<std::vector<std::string>>::read(r);
      lists.push_back(std::move(l));
    }
    for (auto* states : {inflight_in, inflight_out}) {
      std::vector<runtime::ChannelState> sink;
      auto& dst = states ? *states : sink;
      for (uint64_t n = r.read_varint(); n > 0; --n) {
        runtime::ChannelState cs;
        cs.partition = r.read_fixed<int32_t>();
        cs.channel = r.read_fixed<int32_t>();
        for (uint64_t m = r.read_varint(); m > 0; --m) {
          runtime::InFlightEvent e;
          e.kind = r.read_u8();
          e.value = r.read_fixed<int64_t>();
          e.bytes = Serde<std::string>::read(r);
          cs.events.push_back(std::move(e));
        }
        dst.push_back(std::move(cs));
      }
    }
    if (!r.at_end()) throw StateError("state file: trailing bytes");
  } catch (const SerdeError& e) {
    throw StateError(std::string("state file is malformed: ") + e.what());
  }
}

void write_metadata(const std::string& dir, const Metadata& meta) {
  std::string body = serialize(meta);
  std::string out;
  write_header(out, kMetaMagic);
  ByteWriter w(out);
  w.write_fixed(checksum(body));
  out.append(body);
  fault_point("checkpoint.metadata");
  write_file_atomic(dir + "/" + kMetadataFile, out);
}

Metadata read_metadata(const std::string& dir) {
  const std::string path = dir + "/" + kMetadataFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StateError("'" + dir + "' is not a complete checkpoint or savepoint: no " + kMetadataFile);
  const std::string bytes = read_file(path);
  uint32_t version = 0;
  std::string_view rest = check_header(bytes, kMetaMagic, path, &version);
  if (rest.size() < 8) throw StateError("'" + path + "' is truncated");
  ByteReader r(rest.substr(0, 8));
  const auto sum = r.read_fixed<uint64_t>();
  const std::string_view body = rest.substr(8);
  if (checksum(body) != sum) throw StateError("'" + path + "' is corrupt: checksum mismatch");
  Metadata meta;
  try {
    meta = version == 1 ? from_v1(deserialize<format1::Metadata>(body)) : deserialize<Metadata>(body);
  } catch (const SerdeError& e) {
    throw StateError("'" + path + "' does not decode: " + e.what());
  }
  validate_metadata(dir, meta);
  return meta;
}

void check_file_name(const std::string& dir, const std::string& name) {
  const bool plain = !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
                     name.find('\0') == std::string::npos;
  if (!plain) {
    throw StateError("file name '" + name + "' is not a plain file name inside '" + dir + "'; a checkpoint names only its own files");
  }
  std::error_code ec1, ec2;
  const fs::path folder = fs::weakly_canonical(fs::path(dir), ec1);
  const fs::path file = fs::weakly_canonical(fs::path(dir) / name, ec2);
  if (ec1 || ec2 || file.parent_path() != folder) {
    throw StateError("file '" + name + "' resolves to '" + file.string() + "', outside '" + dir +
                     "'; a checkpoint names only files inside its own folder");
  }
}

std::vector<std::string> metadata_problems(const std::string& dir, const Metadata& meta) {
  std::vector<std::string> out;
  std::set<std::string> uids;
  for (const auto& op : meta.operators) {
    const std::string who = "operator '" + op.name + "' (uid '" + op.uid + "')";
    if (!uids.insert(op.uid).second) out.push_back(who + " appears twice");
    if (op.max_parallelism < 1 || op.max_parallelism > kMaxKeyGroups) {
      out.push_back(who + " has max parallelism " + std::to_string(op.max_parallelism) + ", outside 1.." +
                    std::to_string(kMaxKeyGroups));
      continue;
    }
    if (op.parallelism < 1 || op.parallelism > op.max_parallelism) {
      out.push_back(who + " has parallelism " + std::to_string(op.parallelism) + ", outside 1.." +
                    std::to_string(op.max_parallelism) + " (its max parallelism)");
      continue;
    }
    if (static_cast<int64_t>(op.subtasks.size()) != op.parallelism) {
      out.push_back(who + " has parallelism " + std::to_string(op.parallelism) + " but " + std::to_string(op.subtasks.size()) +
                    " subtasks");
    }
    std::set<int32_t> seen;
    std::vector<std::tuple<int32_t, int32_t, int32_t>> ranges;  // (first, last, subtask)
    for (const auto& st : op.subtasks) {
      const std::string sub = who + " subtask " + std::to_string(st.subtask);
      if (st.subtask < 0 || st.subtask >= op.parallelism) {
        out.push_back(sub + ": index outside 0.." + std::to_string(op.parallelism - 1));
      } else if (!seen.insert(st.subtask).second) {
        out.push_back(sub + " appears twice");
      }
      if (st.first_key_group < 0 || st.last_key_group >= op.max_parallelism || st.first_key_group > st.last_key_group) {
        out.push_back(sub + ": key groups " + std::to_string(st.first_key_group) + "-" + std::to_string(st.last_key_group) +
                      " are not a range within 0-" + std::to_string(op.max_parallelism - 1));
      } else {
        ranges.emplace_back(st.first_key_group, st.last_key_group, st.subtask);
      }
      if (!st.file.name.empty()) {
        try {
          check_file_name(dir, st.file.name);
        } catch (const StateError& e) {
          out.push_back(sub + ": " + e.what());
        }
      }
      for (const auto& f : st.kv_files) {
        try {
          if (meta.shared_dir.empty()) throw StateError("file '" + f.name + "' is in a shared folder the metadata does not name");
          check_file_name(meta.shared_dir, f.name);
        } catch (const StateError& e) {
          out.push_back(sub + ": " + e.what());
        }
      }
    }
    // Key groups 0..max-1, each owned by exactly one subtask.
    if (ranges.size() == op.subtasks.size()) {
      std::sort(ranges.begin(), ranges.end());
      auto range = [](int32_t first, int32_t last) { return std::to_string(first) + "-" + std::to_string(last); };
      int64_t next = 0;
      std::tuple<int32_t, int32_t, int32_t> prev{-1, -1, -1};
      for (const auto& [first, last, subtask] : ranges) {
        const std::string sub = who + " subtask " + std::to_string(subtask) + " (key groups " + range(first, last) + ")";
        if (first > next) {
          out.push_back(sub + " leaves key groups " + std::to_string(next) + "-" + std::to_string(first - 1) + " to no subtask");
        } else if (first < next) {
          out.push_back(sub + " overlaps subtask " + std::to_string(std::get<2>(prev)) + " (key groups " +
                        range(std::get<0>(prev), std::get<1>(prev)) + ")");
        }
        if (last + 1 > next) {
          next = int64_t{last} + 1;
          prev = {first, last, subtask};
        }
      }
      if (!ranges.empty() && next < op.max_parallelism) {
        out.push_back(who + " leaves key groups " + std::to_string(next) + "-" + std::to_string(op.max_parallelism - 1) +
                      " to no subtask");
      }
    }
  }
  return out;
}

void validate_metadata(const std::string& dir, const Metadata& meta) {
  const auto problems = metadata_problems(dir, meta);
  if (problems.empty()) return;
  std::string msg = "'" + dir + "/" + kMetadataFile + "' describes impossible state (";
  for (std::size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
  msg += "); it was not written by Weir as it is: restore an intact copy of this checkpoint or savepoint, or another one";
  throw StateError(msg);
}

std::string read_verified(const std::string& dir, const FileRef& ref) {
  check_file_name(dir, ref.name);
  const std::string path = dir + "/" + ref.name;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StateError("checkpoint file '" + path + "' is missing");
  std::string bytes = read_file(path);
  if (bytes.size() != ref.size) {
    throw StateError("checkpoint file '" + path + "' is corrupt: " + std::to_string(bytes.size()) + " bytes, expected " +
                     std::to_string(ref.size));
  }
  if (checksum(bytes) != ref.checksum) throw StateError("checkpoint file '" + path + "' is corrupt: checksum mismatch");
  return bytes;
}

std::pair<int, int> key_group_range(int max_p, int p, int index) {
  // Key group g goes to subtask g * p / max_p; subtask i gets [ceil(i * max_p / p), ceil((i+1) * max_p / p) - 1].
  const int64_t first = (static_cast<int64_t>(index) * max_p + p - 1) / p;
  const int64_t last = (static_cast<int64_t>(index + 1) * max_p + p - 1) / p - 1;
  return {static_cast<int>(first), static_cast<int>(last)};
}

std::string path_of_uri(const std::string& uri) {
  constexpr std::string_view kFile = "file://";
  if (uri.rfind(kFile, 0) == 0) return uri.substr(kFile.size());
  if (uri.find("://") != std::string::npos) {
    throw GraphError("checkpoint storage '" + uri + "': only file:// URIs and plain paths are supported");
  }
  return uri;
}

}  // namespace weir::checkpoint
