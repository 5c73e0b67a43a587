// Word count: the lines of a file (or of a TCP server), split into words, counted per word.
//   word_count --input words.txt [--parallelism 4] [--output counts.txt]
//   word_count --host 127.0.0.1 --port 9999
// Prints the final count of every word as "(word,count)".
#include <weir/connectors/socket.hpp>  // the weir::socket connector library
#include <weir/weir.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

using WordCount = std::pair<std::string, int64_t>;

int main(int argc, char** argv) {
  std::string input, host = "127.0.0.1", output;
  int port = 0, parallelism = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--input")) input = argv[i + 1];
    else if (!std::strcmp(argv[i], "--host")) host = argv[i + 1];
    else if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--parallelism")) parallelism = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--output")) output = argv[i + 1];
  }
  if (input.empty() && port == 0) {
    std::fprintf(stderr, "usage: word_count --input FILE | --host HOST --port PORT [--parallelism N] [--output PATH]\n");
    return 2;
  }

  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(parallelism);
  auto lines = input.empty() ? weir::socket_text_stream(env, host, port) : env.read_text_file(input);

  auto counts = lines
                    .flat_map([](const std::string& line, weir::Collector<WordCount>& out) {
                      std::string word;
                      for (char c : line + " ") {
                        if (std::isalnum(static_cast<unsigned char>(c))) {
                          word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
                        } else if (!word.empty()) {
                          out.collect({word, 1});
                          word.clear();
                        }
                      }
                    })
                    .name("tokenize")
                    .key_by([](const WordCount& wc) { return wc.first; })
                    .reduce([](const WordCount& a, const WordCount& b) { return WordCount{a.first, a.second + b.second}; })
                    .name("count");
  if (!output.empty()) counts.write_as_text(output, weir::WriteMode::overwrite);

  // The running counts end with each word's total: keep the largest per word.
  auto all = counts.execute_and_collect("word count");
  std::map<std::string, int64_t> totals;
  for (const auto& [word, n] : all) totals[word] = std::max(totals[word], n);
  for (const auto& [word, n] : totals) std::printf("%s\n", weir::to_text(WordCount{word, n}).c_str());
  return 0;
}
