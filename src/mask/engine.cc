#include "mask/engine.h"

#include <algorithm>

#include "config/node.h"
#include "mask/hs_runtime.h"

namespace jg::mask {
namespace {

struct Expressions {
  std::vector<const char*> text;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
};

Status compileDb(const Expressions& e, hs_database_t** db) {
  const Result<HsRuntime>& runtime = hsRuntime();
  if (!runtime) {
    return runtime.status();
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(e.text.data(), e.flags.data(), e.ids.data(),
                       static_cast<unsigned>(e.text.size()), HS_MODE_BLOCK, runtime->platform, db,
                       &err) != HS_SUCCESS) {
    std::string msg = "cannot compile detector patterns";
    if (err != nullptr) {
      msg += ": ";
      msg += err->message;
      if (err->expression >= 0) {
        msg +=
            " (pattern " + std::to_string(err->expression) + ": " + e.text[err->expression] + ")";
      }
    }
    hs_free_compile_error(err);
    return invalidArgument(msg);
  }
  return Status::ok();
}

DetectorSpec customSpec(const CustomDetector& c) {
  PatternSpec p;
  p.exact = c.pattern;
  p.flags = c.caseless ? HS_FLAG_CASELESS : 0;
  p.validator = c.validator.empty() ? nullptr : validatorByName(c.validator);
  p.context = c.context;
  for (std::string& w : p.context) {
    std::transform(w.begin(), w.end(), w.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
  }
  return DetectorSpec{c.name, c.label, {p}};
}

}  // namespace

const ColumnRule* Profile::findRule(std::string_view schema, std::string_view table,
                                    std::string_view column) const {
  for (const ColumnRule& r : columns_) {
    if (r.column == column && r.table == table && (r.schema.empty() || r.schema == schema)) {
      return &r;
    }
  }
  return nullptr;
}

Status Engine::compile(const ProfileSettings& ps, const std::vector<CustomDetector>& custom,
                       Profile& out) {
  out.strategy_ = ps.detector_strategy;
  out.keep_last_ = ps.keep_last;
  out.columns_ = ps.columns;
  std::vector<DetectorSpec> specs;
  for (const std::string& name : ps.detectors) {
    if (const DetectorSpec* b = findBuiltinDetector(name)) {
      if (name == "secret_assignment") {
        out.secret_keys_ = static_cast<int32_t>(specs.size());
      }
      specs.push_back(*b);
      continue;
    }
    auto it = std::find_if(custom.begin(), custom.end(),
                           [&](const CustomDetector& c) { return c.name == name; });
    if (it == custom.end()) {
      return invalidArgument("unknown detector '" + name + "'");
    }
    specs.push_back(customSpec(*it));
  }
  if (specs.empty()) {
    return Status::ok();
  }
  Expressions pre, exact;
  for (uint32_t d = 0; d < specs.size(); ++d) {
    out.labels_.push_back(specs[d].label);
    for (const PatternSpec& p : specs[d].patterns) {
      auto id = static_cast<unsigned>(out.patterns_.size());
      out.patterns_.push_back({d, p.validator, p.context});
      if (p.shape != 0) {
        out.shapes_ |= p.shape;
      } else {
        const std::string& pf = p.prefilter.empty() ? p.exact : p.prefilter;
        pre.text.push_back(pf.c_str());
        pre.flags.push_back(p.flags | HS_FLAG_SINGLEMATCH);
        pre.ids.push_back(id);
      }
      exact.text.push_back(p.exact.c_str());
      exact.flags.push_back(p.flags | HS_FLAG_SOM_LEFTMOST);
      exact.ids.push_back(id);
    }
  }
  // The expression strings live in `specs` until both databases are compiled.
  hs_database_t* db = nullptr;
  if (!pre.text.empty()) {
    if (Status s = compileDb(pre, &db); !s) {
      return s;
    }
    out.prefilter_.reset(db);
  }
  if (Status s = compileDb(exact, &db); !s) {
    return s;
  }
  out.exact_.reset(db);
  for (hs_database_t* d : {out.prefilter_.get(), out.exact_.get()}) {
    if (d != nullptr && hs_alloc_scratch(d, &prototype_) != HS_SUCCESS) {
      return internalError("cannot allocate detector scratch space");
    }
  }
  return Status::ok();
}

Result<std::shared_ptr<const Engine>> Engine::create(const Settings& settings, std::string key) {
  if (settings.needsKey() && key.size() < 16) {
    return invalidArgument("masking key must be at least 16 bytes for hash and tokenize");
  }
  std::shared_ptr<Engine> engine(new Engine(key));
  std::fill(key.begin(), key.end(), '\0');
  auto add = [&](const std::string& name, const ProfileSettings& ps) -> Status {
    auto p = std::make_unique<Profile>();
    p->name_ = name;
    if (Status s = engine->compile(ps, settings.custom, *p); !s) {
      return Status::error(s.code(), "masking profile '" + name + "': " + s.message());
    }
    engine->profiles_.push_back(std::move(p));
    return Status::ok();
  };
  if (Status s = add("", settings.defaults); !s) {
    return s;
  }
  for (const auto& [name, ps] : settings.profiles) {
    if (Status s = add(name, ps); !s) {
      return s;
    }
  }
  return std::shared_ptr<const Engine>(std::move(engine));
}

Result<std::shared_ptr<const Engine>> Engine::createFromSettings(const Settings& settings) {
  std::string key;
  if (!settings.key_file.empty()) {
    Result<std::string> k = config::readSecretFile(settings.key_file);
    if (!k) {
      return k.status();
    }
    key = std::move(k).value();
  }
  return create(settings, std::move(key));
}

Engine::~Engine() {
  if (prototype_ != nullptr) {
    hs_free_scratch(prototype_);
  }
}

const Profile* Engine::profile(std::string_view name) const {
  for (const auto& p : profiles_) {
    if (p->name_ == name) {
      return p.get();
    }
  }
  return nullptr;
}

}  // namespace jg::mask
