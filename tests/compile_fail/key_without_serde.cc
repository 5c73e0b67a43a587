// Must not compile: the key type has no weir::Serde. One error, which suggests WEIR_SERDE.
#include <weir/weir.hpp>

struct NoSerde {
  int x;
  bool operator==(const NoSerde&) const = default;
};

int main() {
  auto env = weir::StreamExecutionEnvironment::create();
  env.from_sequence(1, 10).key_by([](const int64_t& v) { return NoSerde{static_cast<int>(v)}; });
}
