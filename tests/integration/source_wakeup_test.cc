// Sources with their own I/O: a split reader fed by its own thread returns kNothingAvailable
// and calls its public wake-up when data arrives; the task is woken, not polling in between.
#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;

int64_t process_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

/// What the readers of one job report to the test.
struct Probe {
  std::atomic<int64_t> read_calls{0};
  std::atomic<int64_t> idle_cpu_us{-1};  ///< process CPU time while a producer was idle
  int64_t idle_ms = 300;
};

/// Split s holds s*per_split .. (s+1)*per_split-1. Each reader owns a producer thread that hands
/// over one value at a time (waiting until the task took it), so the reader is mostly empty;
/// split 0's producer pauses `idle_ms` half-way and measures the process's CPU time meanwhile.
class ThreadFedSource final : public weir::Source<int64_t> {
 public:
  ThreadFedSource(int64_t per_split, std::shared_ptr<Probe> probe) : per_split_(per_split), probe_(std::move(probe)) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<weir::SplitReader<int64_t>> create_reader(int split, int) const override {
    return std::make_unique<Reader>(split * per_split_, (split + 1) * per_split_, split == 0, probe_);
  }

 private:
  class Reader final : public weir::SplitReader<int64_t> {
   public:
    Reader(int64_t from, int64_t to, bool pause, std::shared_ptr<Probe> probe) : probe_(std::move(probe)) {
      // The thread starts in the constructor, before the first read: the handle is valid now.
      producer_ = std::thread([this, from, to, pause, wake = wakeup_handle()] {
        for (int64_t v = from; v < to; ++v) {
          if (pause && v == from + (to - from) / 2) {
            const int64_t cpu0 = process_cpu_us();
            std::this_thread::sleep_for(std::chrono::milliseconds(probe_->idle_ms));  // idleness, not synchronisation
            probe_->idle_cpu_us.store(process_cpu_us() - cpu0);
          }
          std::unique_lock lock(mu_);
          taken_.wait(lock, [&] { return stop_ || queue_.empty(); });
          if (stop_) return;
          queue_.push_back(v);
          lock.unlock();
          wake.wakeup();
        }
        {
          std::lock_guard lock(mu_);
          done_ = true;
        }
        wake.wakeup();
      });
    }
    ~Reader() override {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      taken_.notify_all();
      producer_.join();
    }
    Status read(std::size_t max, weir::SourceOutput<int64_t>& out) override {
      probe_->read_calls.fetch_add(1);
      std::unique_lock lock(mu_);
      if (queue_.empty()) return done_ ? Status::kEndOfSplit : Status::kNothingAvailable;
      std::size_t n = 0;
      while (n < max && !queue_.empty()) {
        out.collect(queue_.front());
        queue_.pop_front();
        ++n;
      }
      lock.unlock();
      taken_.notify_all();
      return Status::kMoreAvailable;
    }

   private:
    std::shared_ptr<Probe> probe_;
    std::mutex mu_;
    std::condition_variable taken_;
    std::deque<int64_t> queue_;  // guarded by mu_
    bool done_ = false;          // guarded by mu_
    bool stop_ = false;          // guarded by mu_
    std::thread producer_;
  };

  int64_t per_split_;
  std::shared_ptr<Probe> probe_;
};

class Wakeup : public ::testing::TestWithParam<int> {};

TEST_P(Wakeup, ReaderFedByItsOwnThreadIsWokenNotPolled) {
  const int p = GetParam();
  constexpr int64_t kPerSplit = 300;
  auto probe = std::make_shared<Probe>();
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(p).set_worker_threads(2);
  // No periodic watermarks: no timer wakes the task; only the reader's wake-up can.
  env.set_auto_watermark_interval(std::chrono::milliseconds(0));
  auto out = env.from_source(ThreadFedSource(kPerSplit, probe), weir::WatermarkStrategy<int64_t>::no_watermarks(), "thread fed")
                 .collect_async();
  auto client = env.execute_async("wakeup");
  auto result = client.get_job_execution_result();
  if (result.wait_for(60s) != std::future_status::ready) {
    client.cancel();
    client.wait();  // throws: canceled
    FAIL() << "the job did not end: a reader's wake-up did not reach its task";
  }
  result.get();
  auto got = out.get();
  std::sort(got.begin(), got.end());
  std::vector<int64_t> want(static_cast<std::size_t>(kPerSplit * p));
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = static_cast<int64_t>(i);
  EXPECT_EQ(got, want);
  // Each value is read once and followed by at most a read that finds nothing: about two
  // reads per value. A task that polled its reader would read thousands of times meanwhile.
  const int64_t values = kPerSplit * p;
  EXPECT_LE(probe->read_calls.load(), 3 * values + 10 * p) << "reads for " << values << " values";
  // While the producer is idle the task sleeps: the process uses little CPU.
  ASSERT_GE(probe->idle_cpu_us.load(), 0);
  EXPECT_LT(probe->idle_cpu_us.load(), probe->idle_ms * 1000 / 2)
      << "CPU time (µs) during " << probe->idle_ms << " ms without data";
}

INSTANTIATE_TEST_SUITE_P(Parallelism, Wakeup, ::testing::Values(1, 2, 4));

TEST(Wakeup, HandleIsThreadSafeAndCoalesces) {
  // Many threads waking one handle: the target runs at most once until the next arm().
  weir::SourceWakeup w;
  std::atomic<int> calls{0};
  w.connect([&] { calls.fetch_add(1); });
  w.arm();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) w.wakeup();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  w.arm();
  w();
  EXPECT_EQ(calls.load(), 2);
  w.disconnect();
  w.arm();
  w.wakeup();  // after disconnect: nothing happens
  EXPECT_EQ(calls.load(), 2);
}

}  // namespace
