// Must not compile: a floating-point key (-0.0 == 0.0 with different bytes, NaN != NaN).
#include <weir/weir.hpp>

int main() {
  auto env = weir::StreamExecutionEnvironment::create();
  env.from_sequence(1, 10).key_by([](const int64_t& v) { return static_cast<double>(v) / 2; });
}
