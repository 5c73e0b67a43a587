// JsonCheck accepts exactly what nlohmann::json::accept accepts: hand-picked cases, generated
// valid documents, their mutations, and random strings over JSON's characters (fixed seeds).
#include "connectors/http/json_check.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using weir::http_detail::JsonCheck;

/// nlohmann refuses numbers beyond a double's range (RFC 8259 allows them); JsonCheck takes them.
bool number_overflow(const std::string& text) {
  try {
    const auto parsed = nlohmann::json::parse(text);
    (void)parsed;
  } catch (const nlohmann::json::exception& e) {
    return std::string(e.what()).find("number overflow") != std::string::npos;
  }
  return false;
}

void expect_same(const std::string& text) {
  const bool mine = JsonCheck::is_json(text);
  const bool theirs = nlohmann::json::accept(text);
  if (mine && !theirs && number_overflow(text)) return;
  ASSERT_EQ(mine, theirs) << "input: '" << text << "'";
}

TEST(JsonCheck, HandPickedCases) {
  const std::vector<std::string> cases = {
      "", " ", "{}", "[]", "[1,2]", "{\"a\":1}", " {\"a\" : [1, 2.5e-3, -0, true, false, null]} ", "{\"a\":1,}",
      "[1,]", "[,1]", "{,}", "{\"a\"}", "{\"a\":}", "{1:2}", "01", "-", "-0", "1.", ".5", "1e", "1e+", "1E-7",
      "+1", "0x10", "NaN", "Infinity", "tru", "true ", "truee", "nul", "\"abc", "\"a\\\"b\"", "\"\\x\"",
      "\"\\u00e9\"", "\"\\u00G0\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
      "\"\t\"", "\"\x01\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
      "\"\xf0\x9f\x98\x80\"", "\"\xe0\x80\xaf\"", "\xef\xbb\xbf{}", "\xef\xbb{}", "{} {}", "1 2", "[[[[[]]]]]",
      "[[[[[]]]]", "{\"a\":{\"b\":{\"c\":[{}]}}}", "/* c */ 1", "1 // c", "[1]\n", "\n\r\t1\n", "\"\x7f\"",
      std::string("\"a\0b\"", 5), "-1e-400", "123456789012345678901234567890"};
  for (const auto& c : cases) expect_same(c);
  // Where they differ, on purpose: a NUL byte ends nlohmann's input (it takes what follows
  // unread); RFC 8259 has no such rule. Numbers beyond a double's range are valid JSON.
  EXPECT_FALSE(JsonCheck::is_json(std::string("1\0", 2)));
  EXPECT_FALSE(JsonCheck::is_json(std::string("1\0garbage", 9)));
  EXPECT_TRUE(JsonCheck::is_json("1e400"));
  EXPECT_TRUE(JsonCheck::is_json("[-1e99999]"));
  std::string deep(200, '[');
  deep += std::string(200, ']');
  expect_same(deep);
  expect_same(deep.substr(1));
}

/// A random valid JSON document.
std::string gen(std::mt19937& rng, int depth) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto ws = [&] {
    static const char* w[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    return std::string(w[pick(7)]);
  };
  auto str = [&] {
    static const char* parts[] = {"a", "Zz", " ", "\\\"", "\\\\", "\\/", "\\n", "\\u00e9", "\\ud83d\\ude00",
                                  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "0", "\\t"};
    std::string s = "\"";
    for (int i = pick(5); i > 0; --i) s += parts[pick(14)];
    return s + "\"";
  };
  const int kind = depth > 4 ? pick(4) : pick(6);
  switch (kind) {
    case 0: return str();
    case 1: {
      static const char* nums[] = {"0", "-0", "1", "-12", "3.25", "1e5", "-2.5E-3", "10000000000000000000000", "0.0"};
      return nums[pick(9)];
    }
    case 2: return "true";
    case 3: return pick(2) ? "false" : "null";
    case 4: {
      std::string s = "[" + ws();
      for (int i = pick(4); i > 0; --i) s += gen(rng, depth + 1) + ws() + (i > 1 ? "," + ws() : "");
      return s + "]";
    }
    default: {
      std::string s = "{" + ws();
      for (int i = pick(4); i > 0; --i) s += str() + ws() + ":" + ws() + gen(rng, depth + 1) + ws() + (i > 1 ? "," + ws() : "");
      return s + "}";
    }
  }
}

TEST(JsonCheck, GeneratedDocumentsAndTheirMutations) {
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\",:-+.0123456789eE \t\n\\/utrfalsn\x01\x7f\xc3\xa9\xed\xa0\x80\xf0\x9f\xbf\xef\xbb";
  int valid = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string doc = gen(rng, 0);
    ASSERT_TRUE(JsonCheck::is_json(doc)) << doc;
    expect_same(doc);
    ++valid;
    for (int m = 0; m < 5; ++m) {
      std::string mut = doc;
      const std::size_t at = mut.empty() ? 0 : rng() % mut.size();
      switch (rng() % 4) {
        case 0: if (!mut.empty()) mut.erase(at, 1); break;
        case 1: mut.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: if (!mut.empty()) mut[at] = alphabet[rng() % alphabet.size()]; break;
        default: mut.resize(at); break;
      }
      expect_same(mut);
    }
  }
  EXPECT_EQ(valid, 30000);
}

TEST(JsonCheck, RandomStringsOverJsonCharacters) {
  std::mt19937 rng(777);
  const std::string alphabet = "{}[]\",:-+.01e \\utrfalsn\xc3\xa9\xed\xa0\x80";
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    for (int n = static_cast<int>(rng() % 12); n > 0; --n) s += alphabet[rng() % alphabet.size()];
    expect_same(s);
  }
}

}  // namespace
