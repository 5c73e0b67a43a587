// Must not compile: a struct key with a double field, found through WEIR_SERDE.
#include <weir/weir.hpp>

struct Point {
  int64_t id = 0;
  double x = 0;
  bool operator==(const Point&) const = default;
};
WEIR_SERDE(Point, id, x)

int main() {
  auto env = weir::StreamExecutionEnvironment::create();
  env.from_sequence(1, 10).key_by([](const int64_t& v) { return std::make_pair(Point{v, 0.5}, v); });
}
