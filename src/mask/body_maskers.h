// The body maskers behind makeBodyMasker (body.h), one factory per kind. Internal to the mask
// module. Same threading and lifetime rules as BodyMasker.
#pragma once

#include <memory>
#include <string>

#include "mask/body.h"

namespace jg::mask {

// One step of a masker that fails for good: once `failure` is set every call returns it, and a
// step that fails leaves `out` as it was, so nothing of it can be sent.
template <class Step>
Status stickyStep(Status& failure, std::string& out, Step&& step) {
  if (!failure.isOk()) {
    return failure;
  }
  size_t start = out.size();
  failure = step();
  if (!failure.isOk()) {
    out.resize(start);
  }
  return failure;
}

std::unique_ptr<BodyMasker> makeJsonMasker(const BodyPlan& plan, Scanner& scanner,
                                           BodyLimits limits);
std::unique_ptr<BodyMasker> makeNdjsonMasker(const BodyPlan& plan, Scanner& scanner,
                                             BodyLimits limits);
std::unique_ptr<BodyMasker> makeTextMasker(const BodyPlan& plan, Scanner& scanner,
                                           BodyLimits limits);
std::unique_ptr<BodyMasker> makeSseMasker(const BodyPlan& plan, Scanner& scanner,
                                          BodyLimits limits);

// Free-text masking of one line or data field with the plan's detectors, appended to `out`.
[[nodiscard]] Status maskText(const BodyPlan& plan, Scanner& scanner, std::string_view text,
                              std::string& scratch, Counters& counters, std::string& out);

}  // namespace jg::mask
