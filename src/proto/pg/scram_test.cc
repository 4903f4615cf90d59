#include "proto/pg/scram.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace jg::pg {
namespace {

// RFC 7677, section 3: user "user", password "pencil". PostgreSQL clients send an empty user
// name ("n=,"), which changes AuthMessage; the expected values below were computed with an
// independent implementation (Python hashlib/hmac) that first reproduced the RFC's own vector
// (p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=, v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=).
constexpr std::string_view kNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

TEST(ScramClient, Rfc7677ExchangeWithEmptyUserName) {
  ScramClient c("pencil");
  c.setNonceForTest(std::string(kNonce));
  EXPECT_EQ(c.mechanism(), "SCRAM-SHA-256");
  EXPECT_EQ(c.clientFirst(), "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auto final_msg = c.handleServerFirst(kServerFirst);
  ASSERT_TRUE(final_msg.isOk()) << final_msg.status().message();
  EXPECT_EQ(*final_msg,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=");
  EXPECT_TRUE(c.verifyServerFinal("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=").isOk());
}

// The cache gives the same proof as a fresh derivation, and only for the same password, salt
// and iteration count.
TEST(ScramClient, SaltedPasswordCacheGivesTheSameProof) {
  SaltedPasswordCache cache(2);
  for (int round = 0; round < 2; ++round) {
    ScramClient c("pencil", {}, &cache);
    c.setNonceForTest(std::string(kNonce));
    c.clientFirst();
    auto final_msg = c.handleServerFirst(kServerFirst);
    ASSERT_TRUE(final_msg.isOk());
    EXPECT_EQ(*final_msg,
              "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
              "p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=");
    EXPECT_TRUE(c.verifyServerFinal("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=").isOk());
    EXPECT_EQ(cache.hits(), static_cast<uint64_t>(round));
  }
  // Another password with the same salt, and the same password with other iterations: misses.
  ScramClient other("pencil2", {}, &cache);
  other.setNonceForTest(std::string(kNonce));
  other.clientFirst();
  auto wrong = other.handleServerFirst(kServerFirst);
  ASSERT_TRUE(wrong.isOk());
  EXPECT_EQ(wrong->find("p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k="), std::string::npos);
  ScramClient fewer("pencil", {}, &cache);
  fewer.setNonceForTest(std::string(kNonce));
  fewer.clientFirst();
  std::string first(kServerFirst);
  first.replace(first.find("i=4096"), 6, "i=4097");
  auto changed = fewer.handleServerFirst(first);
  ASSERT_TRUE(changed.isOk());
  EXPECT_EQ(changed->find("p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k="), std::string::npos);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(ScramClient, ChannelBindingSendsTheCertificateHashInTheGs2Header) {
  std::string cert_hash;
  for (int i = 0; i < 32; ++i) {
    cert_hash.push_back(static_cast<char>(i));
  }
  ScramClient c("pencil", cert_hash);
  c.setNonceForTest(std::string(kNonce));
  EXPECT_EQ(c.mechanism(), "SCRAM-SHA-256-PLUS");
  EXPECT_EQ(c.clientFirst(), "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO");
  auto final_msg = c.handleServerFirst(kServerFirst);
  ASSERT_TRUE(final_msg.isOk());
  EXPECT_EQ(*final_msg,
            "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,"
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=Q8h71kjaoMzNI7dPksDrhRE/5mTUObF0fUHVIgBOWQg=");
  EXPECT_TRUE(c.verifyServerFinal("v=ykwoqH8mLqO5AQCeuwwf6lsj9f8zyJZT/CcvAbN4Ssc=").isOk());
}

TEST(ScramClient, GeneratedNoncesAreFreshBase64Of18Bytes) {
  ScramClient a("pw"), b("pw");
  std::string fa = a.clientFirst(), fb = b.clientFirst();
  ASSERT_TRUE(fa.starts_with("n,,n=,r="));
  EXPECT_EQ(fa.size() - 8, 24u);
  EXPECT_NE(fa, fb);
}

Status serverFirstStatus(std::string_view server_first) {
  ScramClient c("pencil");
  c.setNonceForTest(std::string(kNonce));
  (void)c.clientFirst();
  auto r = c.handleServerFirst(server_first);
  return r.isOk() ? Status::ok() : r.status();
}

TEST(ScramClient, RejectsMalformedOrHostileServerFirstMessages) {
  const char* bad[] = {
      "",
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",     // no server nonce part
      "r=XXprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // not our nonce
      "r=rOprNGfwEbeRWgbNEkqOabc,s=not*base64,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+5",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",  // above the cap
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==",
      "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOabc,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=1",
      "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "r=rOprNGfwEbeRWgbNEkqO\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  };
  for (const char* s : bad) {
    Status st = serverFirstStatus(s);
    EXPECT_FALSE(st.isOk()) << s;
    EXPECT_EQ(st.code(), Code::kProtocol) << s;
  }
}

TEST(ScramClient, ServerFirstBeforeClientFirstIsAnError) {
  ScramClient c("pencil");
  EXPECT_FALSE(c.handleServerFirst(kServerFirst).isOk());
  EXPECT_FALSE(c.verifyServerFinal("v=abcd").isOk());
}

TEST(ScramClient, WrongServerSignatureIsRejected) {
  ScramClient c("pencil");
  c.setNonceForTest(std::string(kNonce));
  (void)c.clientFirst();
  ASSERT_TRUE(c.handleServerFirst(kServerFirst).isOk());
  // The RFC's signature is for user "user": it must not verify our "n=" exchange.
  Status s = c.verifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_FALSE(c.verifyServerFinal("v=short").isOk());
  EXPECT_FALSE(c.verifyServerFinal("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=,x=1").isOk());
  EXPECT_FALSE(c.verifyServerFinal("").isOk());
}

TEST(ScramClient, ServerErrorIsReportedWithItsMessage) {
  ScramClient c("wrong");
  c.setNonceForTest(std::string(kNonce));
  (void)c.clientFirst();
  ASSERT_TRUE(c.handleServerFirst(kServerFirst).isOk());
  Status s = c.verifyServerFinal("e=invalid-proof");
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_NE(s.message().find("invalid-proof"), std::string::npos);
  EXPECT_EQ(s.sqlstate(), "28P01");
}

TEST(Md5Password, MatchesPostgresFormula) {
  // Computed independently: md5(hex(md5("secret" + "alice")) + "\x01\x02\x03\x04").
  EXPECT_EQ(md5PasswordResponse("alice", "secret", "\x01\x02\x03\x04"),
            "md598a0412b9c31436fc53776e863350083");
}

// A self-signed certificate for `key_type` ("EC", "ED25519") signed with `md` (nullptr for
// Ed25519), as DER.
std::string makeCertificate(const char* key_type, const EVP_MD* md) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      std::string_view(key_type) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                         : EVP_PKEY_Q_keygen(nullptr, nullptr, key_type),
      &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  if (!key || !cert) {
    return {};
  }
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("db.test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), key.get(), md) <= 0) {
    return {};
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string digestOf(std::string_view data, const EVP_MD* md) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), buf, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(buf), len);
}

TEST(TlsServerEndPoint, HashesWithTheSignatureDigest) {
  std::string der = makeCertificate("EC", EVP_sha384());
  ASSERT_FALSE(der.empty());
  auto h = tlsServerEndPointHash(der);
  ASSERT_TRUE(h.isOk()) << h.status().message();
  EXPECT_EQ(*h, digestOf(der, EVP_sha384()));
}

TEST(TlsServerEndPoint, Sha1AndSha256SignaturesUseSha256) {
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
    std::string der = makeCertificate("EC", md);
    ASSERT_FALSE(der.empty());
    auto h = tlsServerEndPointHash(der);
    ASSERT_TRUE(h.isOk()) << h.status().message();
    EXPECT_EQ(*h, digestOf(der, EVP_sha256()));
  }
}

TEST(TlsServerEndPoint, SignatureWithoutDigestIsAnError) {
  std::string der = makeCertificate("ED25519", nullptr);
  ASSERT_FALSE(der.empty());
  EXPECT_FALSE(tlsServerEndPointHash(der).isOk());
}

TEST(TlsServerEndPoint, MalformedOrTrailingDerIsAnError) {
  std::string der = makeCertificate("EC", EVP_sha256());
  EXPECT_FALSE(tlsServerEndPointHash("").isOk());
  EXPECT_FALSE(tlsServerEndPointHash("not a certificate").isOk());
  EXPECT_FALSE(tlsServerEndPointHash(der.substr(0, der.size() - 1)).isOk());
  EXPECT_FALSE(tlsServerEndPointHash(der + "x").isOk());
}

}  // namespace
}  // namespace jg::pg
