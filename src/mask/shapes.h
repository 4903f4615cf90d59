// Native prefilters: hand-written scans that stand in for the Vectorscan prefilter of the
// built-in detectors whose values are runs of digits (card, SSN, phone, IPv4, IBAN) and of the
// e-mail detector.
//
// Why not Vectorscan: a digit-run pattern has no literal for Vectorscan's literal matcher to
// anchor on, so it crawls through digit-dense text (hex digests, UUIDs, base64, numbers) at
// about 1 GB/s per pattern, and a word-boundary assertion on such a pattern makes prose slower
// still (the literal analysis is global to the set). The values themselves are easy to find by
// hand: every one of them starts at a word boundary (`\b` in the exact expressions), which the
// inside of a run of hex or base64 does not have. The scan takes 64 bytes at a time as bit masks,
// keeps the digits (and pairs of capitals) that follow a non-word byte, and checks those few
// byte by byte against each expression's shape.
// The e-mail prefilter is here too: `@[a-z]+\.`, alone or beside the other prefilters, is a
// shape for which Vectorscan 5.4.9's AVX-512 code drops matches (see property_test.cc).
// So are the URI-password and IPv6 prefilters: in key=value log text every clock time
// (`10:23:45`) and every URL (`http://host:8080/`) looks like the start of one, and as
// Vectorscan expressions they cost the whole prefilter set most of its speed on such text. By
// hand, an `@` with a `:` and a `://` before it in the same run of userinfo bytes, and a `::` or
// eight colon-separated hex groups, are quick to rule out.
//
// Contract, per shape: hasShape(text, shape) is true wherever the exact expression of the
// built-in pattern that carries the shape matches in text (it may be true more often); for
// kShapeIpv6, wherever it matches a span that its validator accepts (a clock time matches the
// expression but is no address). Those expressions are in detectors.cc; shapes_test.cc checks
// the superset against std::regex, and against Vectorscan plus the validator for kShapeIpv6.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace jg::mask {

enum Shape : uint32_t {
  kShapeEmail = 1u << 0,        // x@host.y
  kShapeCard = 1u << 1,         // 13-19 digits, plain or grouped by spaces or dashes
  kShapeSsn = 1u << 2,          // AAA-GG-SSSS, AAA GG SSSS
  kShapeIban = 1u << 3,         // CCdd then groups of capitals and digits
  kShapePhoneE164 = 1u << 4,    // +CC ...
  kShapePhoneIntl = 1u << 5,    // 00CC ...
  kShapePhoneNanp = 1u << 6,    // (212) 555-1234, 212-555-1234
  kShapePhoneTrunk = 1u << 7,   // 06 12 34 56 78, 020 7946 0958
  kShapeIpv4 = 1u << 8,         // dotted quad
  kShapeUrlPassword = 1u << 9,  // scheme://user:password@
  kShapeIpv6 = 1u << 10,        // 2001:db8::1, fe80:0:0:0:200:f8ff:fe21:67cf
};

// True if `text` holds a candidate for any of the shapes in the `shapes` bit set.
bool hasShape(std::string_view text, uint32_t shapes);

}  // namespace jg::mask
