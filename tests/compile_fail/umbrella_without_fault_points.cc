// Must not compile: weir.hpp is what a job includes, and arming test fault points is not part
// of it (tests include weir/testing/faults.hpp).
#include <weir/weir.hpp>

int main() { weir::testing::arm_fault("task.process"); }
