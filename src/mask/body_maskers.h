// The body maskers behind makeBodyMasker (body.h), one factory per kind. Internal to the mask
// module. Same threading and lifetime rules as BodyMasker.
#pragma once

#include <memory>

#include "mask/body.h"

namespace jg::mask {

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
