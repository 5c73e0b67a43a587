// Must not compile: a window co-group keyed by a type without weir::Serde. One error.
#include <weir/weir.hpp>

struct NoSerde {
  int x;
  bool operator==(const NoSerde&) const = default;
};

int main() {
  auto env = weir::StreamExecutionEnvironment::create();
  auto a = env.from_sequence(1, 10);
  auto b = env.from_sequence(1, 10);
  a.co_group(b).where([](const int64_t& v) { return NoSerde{static_cast<int>(v)}; });
}
