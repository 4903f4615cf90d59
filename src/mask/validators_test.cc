#include "mask/validators.h"

#include <gtest/gtest.h>

namespace jg::mask {
namespace {

TEST(Validators, LuhnAcceptsKnownTestNumbers) {
  EXPECT_TRUE(luhnValid("4111111111111111"));
  EXPECT_TRUE(luhnValid("378282246310005"));
  EXPECT_TRUE(luhnValid("6011111111111117"));
  EXPECT_FALSE(luhnValid("4111111111111112"));
  EXPECT_FALSE(luhnValid(""));
  EXPECT_FALSE(luhnValid("41x1"));
}

TEST(Validators, IbanChecksCountryLengthAndMod97) {
  EXPECT_TRUE(ibanValid("DE89370400440532013000"));
  EXPECT_TRUE(ibanValid("GB82 WEST 1234 5698 7654 32"));
  EXPECT_TRUE(ibanValid("FR1420041010050500013M02606"));
  EXPECT_FALSE(ibanValid("DE89370400440532013001"));  // checksum
  EXPECT_FALSE(ibanValid("DE8937040044053201300"));   // length for DE
  EXPECT_FALSE(ibanValid("ZZ89370400440532013000"));  // no such country
}

TEST(Validators, SsnFollowsAreaGroupSerialRules) {
  EXPECT_TRUE(ssnValid("123-45-6789"));
  EXPECT_TRUE(ssnValid("123 45 6789"));
  EXPECT_FALSE(ssnValid("000-45-6789"));
  EXPECT_FALSE(ssnValid("666-45-6789"));
  EXPECT_FALSE(ssnValid("912-45-6789"));
  EXPECT_FALSE(ssnValid("123-00-6789"));
  EXPECT_FALSE(ssnValid("123-45-0000"));
  EXPECT_FALSE(ssnValid("123-45 6789"));  // mixed separators
}

TEST(Validators, Ipv4OctetsAreInRangeWithoutLeadingZeros) {
  EXPECT_TRUE(ipv4Valid("192.168.1.20"));
  EXPECT_TRUE(ipv4Valid("0.0.0.0"));
  EXPECT_FALSE(ipv4Valid("256.1.1.1"));
  EXPECT_FALSE(ipv4Valid("01.2.3.4"));
  EXPECT_FALSE(ipv4Valid("1.2.3"));
  EXPECT_FALSE(ipv4Valid("1.2.3.4.5"));
}

TEST(Validators, Ipv6UsesTheSystemParser) {
  EXPECT_TRUE(ipv6Valid("2001:db8::1"));
  EXPECT_TRUE(ipv6Valid("fe80:0:0:0:200:f8ff:fe21:67cf"));
  EXPECT_FALSE(ipv6Valid("10:20:30"));
  EXPECT_FALSE(ipv6Valid("2001:db8:::1"));
}

TEST(Validators, CardSpanRejectsMixedSeparatorsAndUnknownNetworks) {
  auto check = [](std::string_view s) {
    size_t from = 0, to = s.size();
    return validateCard(s, from, to);
  };
  EXPECT_TRUE(check("4111 1111 1111 1111"));
  EXPECT_TRUE(check("4111-1111-1111-1111"));
  EXPECT_FALSE(check("4111 1111-1111 1111"));
  EXPECT_FALSE(check("0000000000000000"));  // Luhn-valid, not a card
  EXPECT_FALSE(check("1234567812345670"));  // Luhn-valid, no such network
}

TEST(Validators, PemBlockExtendsToItsEndLine) {
  std::string_view s = "x -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY----- y";
  size_t from = 2, to = 29;
  ASSERT_TRUE(extendPemBlock(s, from, to));
  EXPECT_EQ(s.substr(to), " y");
}

TEST(Validators, CustomValidatorsAreFoundByName) {
  EXPECT_NE(validatorByName("luhn"), nullptr);
  EXPECT_NE(validatorByName("iban"), nullptr);
  EXPECT_EQ(validatorByName("nope"), nullptr);
}

}  // namespace
}  // namespace jg::mask
