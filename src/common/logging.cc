#include "weir/common/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace weir {

void log_to_stderr() {
  auto previous = spdlog::default_logger();
  auto logger = spdlog::stderr_color_mt("weir-stderr");
  logger->set_level(previous->level());
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace weir
