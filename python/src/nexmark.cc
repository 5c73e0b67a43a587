// The Nexmark generator (bench/nexmark/nexmark.h, the C++ generator itself) as a source of
// Python jobs, and the event classes Python sees (weir/nexmark.py names them).
//
// Each event reaches Python as one object of its kind: `Person`, `Auction` or `Bid`, native
// classes holding the C++ struct, whose attributes carry the suite's column names (`dateTime`,
// `emailAddress`, `itemName`, ...). Like a row of the suite's `datagen` table each also has
// `event_type` (0, 1, 2) and `person` / `auction` / `bid`: itself for its own kind, None for the
// others, so `e.bid.price` reads as in the suite's SQL (on a bid, `auction` is the bid's field:
// the auction's id). Fields become Python values only when read (a query that looks at two fields
// of a bid pays for two), and an event is one allocation.
#include <nanobind/stl/tuple.h>

#include <cstdint>
#include <deque>
#include <type_traits>

#include "bindings.h"
#include "nexmark.h"

// Text (an event's string field: a view of the generator's tables or owned bytes) is a Python str.
namespace nanobind::detail {
template <>
struct type_caster<nexmark::Text> {
  NB_TYPE_CASTER(nexmark::Text, const_name("str"))
  bool from_python(handle src, uint8_t, cleanup_list*) noexcept {
    Py_ssize_t size = 0;
    const char* s = PyUnicode_AsUTF8AndSize(src.ptr(), &size);
    if (s == nullptr) {
      PyErr_Clear();
      return false;
    }
    value = nexmark::Text(std::string(s, static_cast<std::size_t>(size)));
    return true;
  }
  static handle from_cpp(const nexmark::Text& t, rv_policy, cleanup_list*) noexcept {
    return PyUnicode_FromStringAndSize(t.data(), static_cast<Py_ssize_t>(t.size()));
  }
};
}  // namespace nanobind::detail

namespace weir::python {
namespace {

using nexmark::Auction;
using nexmark::Bid;
using nexmark::Person;

/// `==` and `!=` compare all fields; the objects are not hashable (key by a field instead).
template <class T>
void add_comparison(nb::class_<T>& c) {
  c.def("__eq__", [](const T& a, nb::handle b) { return nb::isinstance<T>(b) && a == nb::cast<const T&>(b); });
  c.def("__ne__", [](const T& a, nb::handle b) { return !(nb::isinstance<T>(b) && a == nb::cast<const T&>(b)); });
  c.attr("__hash__") = nb::none();
}

std::string quoted(const std::string& s) {
  nb::str py(s.data(), s.size());
  return nb::cast<std::string>(nb::repr(py));
}

// ---- fast attributes ---------------------------------------------------------------------------
// A query reads a few fields of every event: CPython getset descriptors read them straight from
// the instance's C++ struct (a plain C call, about a fifth of a nanobind property's dispatch).
// They replace the `def_ro` properties (which stay for the type stubs).

/// The field at byte `off` of the C++ struct inside the instance `self` (nullptr: not ready).
template <class F>
const F* field_at(PyObject* self, void* off) {
  if (!nb::inst_ready(self)) {
    PyErr_SetString(PyExc_AttributeError, "the event is not initialised");
    return nullptr;
  }
  return reinterpret_cast<const F*>(nb::inst_ptr<char>(self) + reinterpret_cast<std::intptr_t>(off));
}
PyObject* get_int64(PyObject* self, void* off) {
  const auto* v = field_at<int64_t>(self, off);
  return v != nullptr ? PyLong_FromLongLong(*v) : nullptr;
}
PyObject* get_string(PyObject* self, void* off) {
  const auto* v = field_at<std::string>(self, off);
  return v != nullptr ? PyUnicode_FromStringAndSize(v->data(), static_cast<Py_ssize_t>(v->size())) : nullptr;
}
PyObject* get_text(PyObject* self, void* off) {
  const auto* v = field_at<nexmark::Text>(self, off);
  return v != nullptr ? PyUnicode_FromStringAndSize(v->data(), static_cast<Py_ssize_t>(v->size())) : nullptr;
}
PyObject* get_self(PyObject* self, void*) { return Py_NewRef(self); }
PyObject* get_none(PyObject*, void*) { Py_RETURN_NONE; }
PyObject* get_constant(PyObject*, void* v) { return PyLong_FromLong(static_cast<long>(reinterpret_cast<std::intptr_t>(v))); }

/// Sets descriptors on a bound event class.
template <class T>
class FastAttributes {
 public:
  explicit FastAttributes(nb::handle type) : type_(type) {}
  template <class F>
  FastAttributes& field(const char* name, F T::*member) {
    static_assert(std::is_same_v<F, int64_t> || std::is_same_v<F, std::string> || std::is_same_v<F, nexmark::Text>);
    static const T probe{};
    const auto off = reinterpret_cast<const char*>(&(probe.*member)) - reinterpret_cast<const char*>(&probe);
    getter g = std::is_same_v<F, int64_t> ? get_int64 : std::is_same_v<F, std::string> ? get_string : get_text;
    return add(name, g, reinterpret_cast<void*>(off));
  }
  FastAttributes& add(const char* name, getter g, void* closure = nullptr) {
    // Descriptors keep a pointer to their PyGetSetDef: the definitions live as long as the process.
    static auto* defs = new std::deque<PyGetSetDef>();
    defs->push_back(PyGetSetDef{name, g, nullptr, nullptr, closure});
    PyObject* d = PyDescr_NewGetSet(reinterpret_cast<PyTypeObject*>(type_.ptr()), &defs->back());
    if (d == nullptr) throw nb::python_error();
    const int rc = PyObject_SetAttrString(type_.ptr(), name, d);
    Py_DECREF(d);
    if (rc != 0) throw nb::python_error();
    return *this;
  }
  /// `event_type`, `person` / `auction` / `bid`: itself for its own kind, else None (a bid's
  /// `auction` is its field).
  FastAttributes& views(int kind) {
    add("event_type", get_constant, reinterpret_cast<void*>(static_cast<std::intptr_t>(kind)));
    add("person", kind == 0 ? get_self : get_none);
    if (kind != 2) add("auction", kind == 1 ? get_self : get_none);
    return add("bid", kind == 2 ? get_self : get_none);
  }

 private:
  nb::handle type_;
};

/// The generator's settings from the Python description (events, rate, seed, base_time).
nexmark::Config config_of(nb::dict c) {
  nexmark::Config cfg;
  cfg.events = nb::cast<int64_t>(c["events"]);
  cfg.rate = nb::cast<double>(c["rate"]);
  cfg.seed = nb::cast<uint64_t>(c["seed"]);
  if (c.contains("base_time") && !c["base_time"].is_none()) cfg.base_time = nb::cast<int64_t>(c["base_time"]);
  if (cfg.events < 0) throw nb::value_error("NexmarkSource: the number of events must not be negative");
  if (!(cfg.rate > 0)) throw nb::value_error("NexmarkSource: the event rate must be above 0");
  return cfg;
}

/// The Python object of one event (lock held): a new instance of its class, the struct moved in.
struct ToPython {
  PyObject* types[3];  // Person, Auction, Bid (borrowed: the module keeps them)
  template <class T>
  static Object make(PyObject* type, T&& v) {
    nb::object o = nb::inst_alloc(nb::handle(type));
    new (nb::inst_ptr<std::decay_t<T>>(o)) std::decay_t<T>(std::forward<T>(v));
    nb::inst_mark_ready(o);
    return Object::steal(o.release().ptr());
  }
  Object operator()(nexmark::Event&& e) const {
    switch (e.v.index()) {
      case 0: return make(types[0], std::move(*std::get_if<Person>(&e.v)));
      case 1: return make(types[1], std::move(*std::get_if<Auction>(&e.v)));
      default: return make(types[2], std::move(*std::get_if<Bid>(&e.v)));
    }
  }
};

ToPython to_python() {
  return ToPython{{nb::type<Person>().ptr(), nb::type<Auction>().ptr(), nb::type<Bid>().ptr()}};
}

/// nexmark::NexmarkSource's splits and positions, its events made straight into Python objects:
/// split s of S makes event ids s, s+S, s+2S, ... (the same stream at any parallelism), its
/// position (the next id) is in checkpoints, each record's timestamp is the event's dateTime. The
/// reader runs on the source's task, which holds the interpreter lock for its slices (the
/// generator has no I/O thread), so the events move from the generator into the objects without
/// a copy or a second operator.
class PyNexmarkSource final : public Source<Object> {
 public:
  explicit PyNexmarkSource(nexmark::Config c) : gen_(std::make_shared<const nexmark::Generator>(c)), conv_(to_python()) {}
  int num_splits(int parallelism) const override { return parallelism; }
  std::unique_ptr<SplitReader<Object>> create_reader(int split, int n) const override {
    struct Reader final : SplitReader<Object> {
      std::shared_ptr<const nexmark::Generator> gen;
      ToPython conv;
      int64_t next, stride;
      Reader(std::shared_ptr<const nexmark::Generator> g, ToPython c, int64_t s, int64_t st)
          : gen(std::move(g)), conv(c), next(s), stride(st) {}
      Status read(std::size_t max, SourceOutput<Object>& out) override {
        GilGuard lock;  // held already on the task: a flag test
        const int64_t end = gen->config().events;
        for (std::size_t i = 0; i < max && next < end; ++i, next += stride) {
          nexmark::Event e = gen->event(next);
          const int64_t ts = e.date_time();
          out.collect(conv(std::move(e)), ts);
        }
        return next < end ? Status::kMoreAvailable : Status::kEndOfSplit;
      }
      std::optional<std::string> snapshot_position() const override { return serialize(next); }
      void restore_position(std::string_view p) override { next = deserialize<int64_t>(p); }
    };
    return std::make_unique<Reader>(gen_, conv_, split, n);
  }

 private:
  std::shared_ptr<const nexmark::Generator> gen_;
  ToPython conv_;
};

}  // namespace

void bind_nexmark(nb::module_& m) {
  nb::class_<Person> person(m, "Person", "A Nexmark person (event_type 0)");
  person
      .def("__init__",
           [](Person* p, int64_t id, nexmark::Text name, std::string email, std::string card, nexmark::Text city,
              nexmark::Text state, int64_t date_time, nexmark::Text extra) {
             new (p) Person{id, std::move(name), std::move(email), std::move(card), std::move(city), std::move(state),
                            date_time, std::move(extra)};
           },
           nb::kw_only(), nb::arg("id") = 0, nb::arg("name") = "", nb::arg("emailAddress") = "",
           nb::arg("creditCard") = "", nb::arg("city") = "", nb::arg("state") = "", nb::arg("dateTime") = 0,
           nb::arg("extra") = "")
      .def_ro("id", &Person::id)
      .def_ro("name", &Person::name)
      .def_ro("emailAddress", &Person::email_address)
      .def_ro("creditCard", &Person::credit_card)
      .def_ro("city", &Person::city)
      .def_ro("state", &Person::state)
      .def_ro("dateTime", &Person::date_time)
      .def_ro("extra", &Person::extra)
      .def("__repr__", [](const Person& p) {
        return "Person(id=" + std::to_string(p.id) + ", name=" + quoted(p.name) + ", emailAddress=" +
               quoted(p.email_address) + ", creditCard=" + quoted(p.credit_card) + ", city=" + quoted(p.city) +
               ", state=" + quoted(p.state) + ", dateTime=" + std::to_string(p.date_time) + ", extra=" +
               quoted(p.extra) + ")";
      })
      .def("__getstate__", [](const Person& p) {
        return std::make_tuple(p.id, p.name, p.email_address, p.credit_card, p.city, p.state, p.date_time, p.extra);
      })
      .def("__setstate__", [](Person& p, const std::tuple<int64_t, nexmark::Text, std::string, std::string, nexmark::Text,
                                                          nexmark::Text, int64_t, nexmark::Text>& s) {
        new (&p) Person{std::get<0>(s), std::get<1>(s), std::get<2>(s), std::get<3>(s),
                        std::get<4>(s), std::get<5>(s), std::get<6>(s), std::get<7>(s)};
      });
  add_comparison(person);
  FastAttributes<Person>(person)
      .field("id", &Person::id)
      .field("name", &Person::name)
      .field("emailAddress", &Person::email_address)
      .field("creditCard", &Person::credit_card)
      .field("city", &Person::city)
      .field("state", &Person::state)
      .field("dateTime", &Person::date_time)
      .field("extra", &Person::extra)
      .views(0);

  nb::class_<Auction> auction(m, "Auction", "A Nexmark auction (event_type 1)");
  auction
      .def("__init__",
           [](Auction* a, int64_t id, std::string item, std::string description, int64_t initial_bid, int64_t reserve,
              int64_t date_time, int64_t expires, int64_t seller, int64_t category, nexmark::Text extra) {
             new (a) Auction{id,        std::move(item), std::move(description), initial_bid, reserve,
                             date_time, expires,         seller,                 category,    std::move(extra)};
           },
           nb::kw_only(), nb::arg("id") = 0, nb::arg("itemName") = "", nb::arg("description") = "",
           nb::arg("initialBid") = 0, nb::arg("reserve") = 0, nb::arg("dateTime") = 0, nb::arg("expires") = 0,
           nb::arg("seller") = 0, nb::arg("category") = 0, nb::arg("extra") = "")
      .def_ro("id", &Auction::id)
      .def_ro("itemName", &Auction::item_name)
      .def_ro("description", &Auction::description)
      .def_ro("initialBid", &Auction::initial_bid)
      .def_ro("reserve", &Auction::reserve)
      .def_ro("dateTime", &Auction::date_time)
      .def_ro("expires", &Auction::expires)
      .def_ro("seller", &Auction::seller)
      .def_ro("category", &Auction::category)
      .def_ro("extra", &Auction::extra)
      .def("__repr__", [](const Auction& a) {
        return "Auction(id=" + std::to_string(a.id) + ", itemName=" + quoted(a.item_name) + ", description=" +
               quoted(a.description) + ", initialBid=" + std::to_string(a.initial_bid) +
               ", reserve=" + std::to_string(a.reserve) + ", dateTime=" + std::to_string(a.date_time) +
               ", expires=" + std::to_string(a.expires) + ", seller=" + std::to_string(a.seller) +
               ", category=" + std::to_string(a.category) + ", extra=" + quoted(a.extra) + ")";
      })
      .def("__getstate__", [](const Auction& a) {
        return std::make_tuple(a.id, a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires,
                               a.seller, a.category, a.extra);
      })
      .def("__setstate__", [](Auction& a, const std::tuple<int64_t, std::string, std::string, int64_t, int64_t, int64_t,
                                                           int64_t, int64_t, int64_t, nexmark::Text>& s) {
        new (&a) Auction{std::get<0>(s), std::get<1>(s), std::get<2>(s), std::get<3>(s), std::get<4>(s),
                         std::get<5>(s), std::get<6>(s), std::get<7>(s), std::get<8>(s), std::get<9>(s)};
      });
  add_comparison(auction);
  FastAttributes<Auction>(auction)
      .field("id", &Auction::id)
      .field("itemName", &Auction::item_name)
      .field("description", &Auction::description)
      .field("initialBid", &Auction::initial_bid)
      .field("reserve", &Auction::reserve)
      .field("dateTime", &Auction::date_time)
      .field("expires", &Auction::expires)
      .field("seller", &Auction::seller)
      .field("category", &Auction::category)
      .field("extra", &Auction::extra)
      .views(1);

  nb::class_<Bid> bid(m, "Bid", "A Nexmark bid (event_type 2)");
  bid.def("__init__",
          [](Bid* b, int64_t auction, int64_t bidder, int64_t price, nexmark::Text channel, nexmark::Text url,
             int64_t date_time, nexmark::Text extra) {
            new (b) Bid{auction, bidder, price, std::move(channel), std::move(url), date_time, std::move(extra)};
          },
          nb::kw_only(), nb::arg("auction") = 0, nb::arg("bidder") = 0, nb::arg("price") = 0, nb::arg("channel") = "",
          nb::arg("url") = "", nb::arg("dateTime") = 0, nb::arg("extra") = "")
      .def_ro("auction", &Bid::auction)
      .def_ro("bidder", &Bid::bidder)
      .def_ro("price", &Bid::price)
      .def_ro("channel", &Bid::channel)
      .def_ro("url", &Bid::url)
      .def_ro("dateTime", &Bid::date_time)
      .def_ro("extra", &Bid::extra)
      .def("__repr__", [](const Bid& b) {
        return "Bid(auction=" + std::to_string(b.auction) + ", bidder=" + std::to_string(b.bidder) +
               ", price=" + std::to_string(b.price) + ", channel=" + quoted(b.channel) + ", url=" + quoted(b.url) +
               ", dateTime=" + std::to_string(b.date_time) + ", extra=" + quoted(b.extra) + ")";
      })
      .def("__getstate__", [](const Bid& b) {
        return std::make_tuple(b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra);
      })
      .def("__setstate__", [](Bid& b, const std::tuple<int64_t, int64_t, int64_t, nexmark::Text, nexmark::Text, int64_t,
                                                       nexmark::Text>& s) {
        new (&b) Bid{std::get<0>(s), std::get<1>(s), std::get<2>(s), std::get<3>(s),
                     std::get<4>(s), std::get<5>(s), std::get<6>(s)};
      });
  add_comparison(bid);
  FastAttributes<Bid>(bid)
      .field("auction", &Bid::auction)
      .field("bidder", &Bid::bidder)
      .field("price", &Bid::price)
      .field("channel", &Bid::channel)
      .field("url", &Bid::url)
      .field("dateTime", &Bid::date_time)
      .field("extra", &Bid::extra)
      .views(2);

  // The source (timestamps: each event's dateTime; watermarks from the Python strategy's kind
  // and bound, the suite's: bounded, 4 s).
  m.def("nexmark_source", [](nb::handle env, nb::dict c) {
    if (!nb::inst_check(env)) throw nb::type_error("expected a weir._weir.Environment");
    StreamExecutionEnvironment& e = env_ref(*nb::inst_ptr<PyEnv>(env));
    const auto name = nb::cast<std::string>(c["name"]);
    try {
      return PyStream{std::make_shared<Stream>(
          e.from_source(PyNexmarkSource(config_of(c)),
                        base_watermark_strategy<Object>(nb::cast<std::string>(c["wm_kind"]), nb::cast<int64_t>(c["wm_bound_ms"]),
                                                        nb::cast<int64_t>(c["wm_idle_ms"])),
                        name))};
    } catch (const GraphError& err) {
      throw nb::value_error(err.what());
    }
  });
  // Events `start` .. `stop - 1` of a configuration, made here (for references and tests).
  m.def("nexmark_events", [](nb::dict c, int64_t start, int64_t stop) {
    const nexmark::Config cfg = config_of(c);
    nexmark::Generator g(cfg);
    stop = std::min(stop, cfg.events);
    const ToPython conv = to_python();
    nb::list out;
    for (int64_t i = std::max<int64_t>(start, 0); i < stop; ++i) out.append(to_nb(conv(g.event(i))));
    return out;
  });
}

}  // namespace weir::python
