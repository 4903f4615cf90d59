// Validators confirm (or refine) a candidate found by a detector pattern.
//
// A pattern is deliberately broader than the thing it looks for (regular expressions cannot
// check a Luhn digit or an IBAN checksum); the validator gets the whole scanned text and the
// candidate span [from, to) and returns false to reject it. A validator may also move the span:
// shrink it to the secret part (`password=hunter2` keeps the keyword visible) or grow it (a PEM
// block runs to its END line). Validators are pure functions of their input; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace jg::mask {

using Validator = bool (*)(std::string_view text, size_t& from, size_t& to);

// Plain checks on a value, exposed for tests and for custom detectors.
bool luhnValid(std::string_view digits);  // digits only
bool ibanValid(std::string_view iban);    // spaces allowed; country length + mod-97
bool ssnValid(std::string_view ssn);      // "AAA-GG-SSSS" or "AAA GG SSSS"
bool ipv4Valid(std::string_view ip);      // dotted quad, octets 0..255, no leading zeros
bool ipv6Valid(std::string_view ip);      // inet_pton(AF_INET6)

// Span validators used by the built-in detectors.
bool validateEmail(std::string_view text, size_t& from, size_t& to);
bool validatePhone(std::string_view text, size_t& from, size_t& to);
bool validateNanpPhone(std::string_view text, size_t& from, size_t& to);
bool validateCard(std::string_view text, size_t& from, size_t& to);
bool validateSsn(std::string_view text, size_t& from, size_t& to);
bool validateIban(std::string_view text, size_t& from, size_t& to);
bool validateIpv4(std::string_view text, size_t& from, size_t& to);
bool validateIpv6(std::string_view text, size_t& from, size_t& to);
bool validateAwsSecret(std::string_view text, size_t& from, size_t& to);
bool extendPemBlock(std::string_view text, size_t& from, size_t& to);

// Validators a custom detector may name in configuration: "luhn", "card", "iban", "ssn",
// "ipv4", "ipv6", "email", "phone". Returns nullptr for an unknown name.
Validator validatorByName(std::string_view name);

}  // namespace jg::mask
