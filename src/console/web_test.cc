#include "console/web.h"

#include <gtest/gtest.h>

#include <set>

namespace jg::console {
namespace {

TEST(ConsoleWeb, CookieValueIsFoundAmongOthersWithSpaces) {
  EXPECT_EQ(cookieValue("a=1; __Host-jg_console=abc ;b=2", kSessionCookie), "abc");
  EXPECT_EQ(cookieValue("a=1;b=2", kSessionCookie), "");
  EXPECT_EQ(cookieValue("x__Host-jg_console=evil", kSessionCookie), "");
  EXPECT_EQ(cookieValue("", kSessionCookie), "");
}

TEST(ConsoleWeb, SessionCookieIsHostOnlySecureHttpOnlyAndStrict) {
  const std::string c = sessionCookie("id1", std::chrono::seconds(3600));
  EXPECT_TRUE(c.starts_with("__Host-jg_console=id1; "));
  for (const char* flag :
       {"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict", "; Max-Age=3600"}) {
    EXPECT_NE(c.find(flag), std::string::npos) << flag;
  }
  EXPECT_EQ(c.find("Domain"), std::string::npos);
  EXPECT_NE(clearedSessionCookie().find("Max-Age=0"), std::string::npos);
}

TEST(ConsoleWeb, LoginCookieSurvivesTheIssuersCrossSiteRedirect) {
  const std::string c = loginCookie("st", std::chrono::seconds(600));
  EXPECT_TRUE(c.starts_with("__Host-jg_console_login=st; Path=/; Secure; HttpOnly"));
  EXPECT_NE(c.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(cookieValue("__Host-jg_console_login=st; __Host-jg_console=x", kLoginCookie), "st");
  EXPECT_EQ(cookieValue("__Host-jg_console_login=st", kSessionCookie), "");
}

TEST(ConsoleWeb, PkceChallengeMatchesTheRfc7636Example) {
  // RFC 7636 Appendix B.
  EXPECT_EQ(pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(ConsoleWeb, RandomTokensAreValidVerifiersAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = randomToken(48);
    EXPECT_TRUE(validPkceVerifier(t)) << t;
    EXPECT_TRUE(seen.insert(t).second);
  }
  EXPECT_FALSE(validPkceVerifier("short"));
  EXPECT_FALSE(validPkceVerifier(std::string(43, '+')));
}

TEST(ConsoleWeb, StateChangeWithoutCsrfHeaderIsRefused) {
  EXPECT_NE(csrfProblem("tok", "", "", "https://gw:8443").find("X-CSRF-Token header is required"),
            std::string::npos);
}

TEST(ConsoleWeb, StateChangeWithAnotherSessionsTokenIsRefused) {
  EXPECT_NE(csrfProblem("tok-a", "tok-b", "", "https://gw:8443").find("does not match"),
            std::string::npos);
  EXPECT_NE(csrfProblem("", "", "", "https://gw:8443"), "");
  EXPECT_NE(csrfProblem("", "x", "", "https://gw:8443"), "");
}

TEST(ConsoleWeb, StateChangeFromAForeignOriginIsRefusedEvenWithTheToken) {
  EXPECT_NE(csrfProblem("tok", "tok", "https://evil.example", "https://gw:8443"), "");
  EXPECT_NE(csrfProblem("tok", "tok", "null", "https://gw:8443"), "");
}

TEST(ConsoleWeb, StateChangeWithTokenAndOwnOriginIsAllowed) {
  EXPECT_EQ(csrfProblem("tok", "tok", "https://gw:8443", "https://gw:8443"), "");
  EXPECT_EQ(csrfProblem("tok", "tok", "", "https://gw:8443"), "");
}

TEST(ConsoleWeb, SecurityHeadersForbidInlineScriptAndFraming) {
  std::string csp;
  bool nosniff = false;
  for (const auto& [k, v] : securityHeaders()) {
    if (k == "Content-Security-Policy") {
      csp = v;
    }
    nosniff = nosniff || (k == "X-Content-Type-Options" && v == "nosniff");
  }
  EXPECT_TRUE(csp.starts_with("default-src 'self'"));
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_TRUE(nosniff);
}

TEST(ConsoleWeb, EtagChangesWithTheBodyAndMatchesInLists) {
  const auto a = etagOf("one");
  EXPECT_NE(a, etagOf("two"));
  EXPECT_EQ(a, etagOf("one"));
  EXPECT_TRUE(etagMatches(a, a));
  EXPECT_TRUE(etagMatches("\"x\", W/" + a, a));
  EXPECT_TRUE(etagMatches("*", a));
  EXPECT_FALSE(etagMatches("\"x\"", a));
  EXPECT_FALSE(etagMatches("", a));
}

}  // namespace
}  // namespace jg::console
