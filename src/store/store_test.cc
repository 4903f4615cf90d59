// The Store contract, run against every backend: SQLite in memory and a fresh PostgreSQL
// database (skipped where PostgreSQL cannot run). Backend-specific behaviour follows below.
#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "core/random.h"
#include "store/test_backends.h"

namespace jg::store {
namespace {

using testing::Backend;

std::vector<Migration> notesV1() {
  return {{1, "notes", {"CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)"}}};
}

int64_t count(Store& s, const std::string& sql) {
  int64_t n = -1;
  EXPECT_TRUE(s.query(sql, {}, [&](const Row& r) {
                 n = asInt(r[0]);
                 return false;
               }).isOk());
  return n;
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string error;
    store_ = testing::openFresh(GetParam(), &skip, &error);
    if (!store_ && error.empty()) {
      GTEST_SKIP() << skip;
    }
    ASSERT_TRUE(store_) << error;
  }
  Store& s() { return *store_; }
  bool postgres() const { return GetParam() == Backend::kPostgres; }

  std::unique_ptr<Store> store_;
};

TEST_P(StoreContract, MigrationsApplyOnceInOrderPerComponent) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());  // idempotent
  EXPECT_EQ(*s().schemaVersion("notes"), 1);
  EXPECT_EQ(*s().schemaVersion("other"), 0);
  auto v2 = notesV1();
  v2.push_back({2,
                "tags",
                {"ALTER TABLE notes ADD COLUMN tag TEXT", "CREATE INDEX notes_tag ON notes(tag)"}});
  ASSERT_TRUE(s().migrate("notes", v2).isOk());
  EXPECT_EQ(*s().schemaVersion("notes"), 2);
  // An older binary must not run against a newer schema.
  EXPECT_FALSE(s().migrate("notes", notesV1()).isOk());
}

TEST_P(StoreContract, FailedMigrationLeavesTheVersionUnchanged) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  auto bad = notesV1();
  bad.push_back({2, "broken", {"ALTER TABLE notes ADD COLUMN x TEXT", "NOT SQL"}});
  Status st = s().migrate("notes", bad);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("migration notes v2"), std::string::npos);
  EXPECT_EQ(*s().schemaVersion("notes"), 1);
  // The partial step was rolled back: column x does not exist.
  EXPECT_FALSE(s().query("SELECT x FROM notes", {}, [](const Row&) { return true; }).isOk());
  // And the store is usable afterwards.
  EXPECT_EQ(count(s(), "SELECT count(*) FROM notes"), 0);
}

TEST_P(StoreContract, IntegerPrimaryKeyOfAMigrationNumbersRowsAndHoldsSixtyFourBits) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  ASSERT_TRUE(s().transaction([](Tx& tx) {
                   Status st = tx.exec("INSERT INTO notes(body) VALUES ('a')");
                   return st ? tx.exec("INSERT INTO notes(body) VALUES ('b')") : st;
                 })
                  .isOk());
  EXPECT_EQ(count(s(), "SELECT max(id) - min(id) FROM notes"), 1);
  std::vector<Migration> big = {{1, "big", {"CREATE TABLE big(n INTEGER NOT NULL)"}}};
  ASSERT_TRUE(s().migrate("big", big).isOk());
  ASSERT_TRUE(s().transaction([](Tx& tx) {
                   return tx.exec("INSERT INTO big(n) VALUES (?)", {int64_t{1} << 40});
                 })
                  .isOk());
  EXPECT_EQ(count(s(), "SELECT n FROM big"), int64_t{1} << 40);
}

TEST_P(StoreContract, TransactionsCommitOrRollBack) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  ASSERT_TRUE(s().transaction([](Tx& tx) {
                   return tx.exec("INSERT INTO notes(body) VALUES (?)", {std::string("kept")});
                 })
                  .isOk());
  EXPECT_FALSE(s().transaction([](Tx& tx) -> Status {
                    (void)tx.exec("INSERT INTO notes(body) VALUES (?)", {std::string("dropped")});
                    return invalidArgument("changed my mind");
                  })
                   .isOk());
  std::vector<std::string> bodies;
  ASSERT_TRUE(s().query("SELECT body FROM notes ORDER BY id", {},
                        [&](const Row& r) {
                          bodies.push_back(asString(r[0]));
                          return true;
                        })
                  .isOk());
  EXPECT_EQ(bodies, std::vector<std::string>{"kept"});
}

TEST_P(StoreContract, ChangesCountsTheRowsOfTheLastExec) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  int64_t changed = -1;
  ASSERT_TRUE(s().transaction([&](Tx& tx) -> Status {
                   for (const char* b : {"x", "x", "y"}) {
                     if (Status st = tx.exec("INSERT INTO notes(body) VALUES (?)", {b}); !st) {
                       return st;
                     }
                   }
                   Status st = tx.exec("UPDATE notes SET body = 'z' WHERE body = ?", {"x"});
                   changed = tx.changes();
                   return st;
                 })
                  .isOk());
  EXPECT_EQ(changed, 2);
}

TEST_P(StoreContract, ValuesRoundTripWithTypes) {
  ASSERT_TRUE(s().transaction([](Tx& tx) {
                   return tx.exec("CREATE TABLE v(a BIGINT, b DOUBLE PRECISION, c TEXT, d TEXT)");
                 })
                  .isOk());
  ASSERT_TRUE(s().transaction([](Tx& tx) {
                   return tx.exec("INSERT INTO v VALUES (?, ?, ?, ?)",
                                  {int64_t{1} << 40, 2.5, std::string("it's ? \xc3\xa9"), Value{}});
                 })
                  .isOk());
  Row got;
  ASSERT_TRUE(s().query("SELECT a, b, c, d FROM v WHERE c LIKE '%?%'", {},
                        [&](const Row& r) {
                          got = r;
                          return true;
                        })
                  .isOk());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(std::get<int64_t>(got[0]), int64_t{1} << 40);
  EXPECT_EQ(std::get<double>(got[1]), 2.5);
  EXPECT_EQ(asString(got[2]), "it's ? \xc3\xa9");
  EXPECT_TRUE(isNull(got[3]));
  EXPECT_FALSE(s().query("SELECT ?", {}, [](const Row&) { return true; }).isOk());
}

TEST_P(StoreContract, NumberedPlaceholdersRepeatAParameter) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  ASSERT_TRUE(s().transaction([](Tx& tx) {
                   return tx.exec("INSERT INTO notes(body) VALUES (?1), (?2), (?1)", {"ab", "cd"});
                 })
                  .isOk());
  EXPECT_EQ(count(s(), "SELECT count(*) FROM notes WHERE body = 'ab'"), 2);
}

TEST_P(StoreContract, TextWithANulByteIsStoredBySqliteAndRefusedByPostgres) {
  ASSERT_TRUE(s().transaction([](Tx& tx) { return tx.exec("CREATE TABLE t(c TEXT)"); }).isOk());
  Status st = s().transaction(
      [](Tx& tx) { return tx.exec("INSERT INTO t VALUES (?)", {std::string("x\0y", 3)}); });
  if (postgres()) {
    EXPECT_FALSE(st.isOk());
    EXPECT_NE(st.message().find("NUL"), std::string::npos) << st.message();
  } else {
    EXPECT_TRUE(st.isOk());
  }
}

TEST_P(StoreContract, ConcurrentTransactionsAllCommit) {
  ASSERT_TRUE(s().migrate("notes", notesV1()).isOk());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(
            s().transaction([](Tx& tx) { return tx.exec("INSERT INTO notes(body) VALUES ('x')"); })
                .isOk());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(count(s(), "SELECT count(*) FROM notes"), 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return testing::backendName(info.param); });

TEST(SqliteStore, FileDatabaseIsSharedAcrossOpensInWalMode) {
  auto path = std::filesystem::temp_directory_path() / ("jg-store-" + randomId(8) + ".db");
  std::string url = "sqlite://" + path.string();
  {
    auto a = open(url);
    ASSERT_TRUE(a.isOk());
    ASSERT_TRUE((*a)->migrate("notes", notesV1()).isOk());
    ASSERT_TRUE((*a)->transaction(
                        [](Tx& tx) { return tx.exec("INSERT INTO notes(body) VALUES ('hello')"); })
                    .isOk());
    auto b = open(url);
    ASSERT_TRUE(b.isOk());
    std::string mode;
    ASSERT_TRUE((*b)->query("PRAGMA journal_mode", {},
                            [&](const Row& r) {
                              mode = asString(r[0]);
                              return false;
                            })
                    .isOk());
    EXPECT_EQ(mode, "wal");
    EXPECT_EQ(count(**b, "SELECT count(*) FROM notes"), 1);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST(Store, UrlsAreValidated) {
  EXPECT_FALSE(open("mysql://x").isOk());
  EXPECT_FALSE(open("sqlite://").isOk());
  EXPECT_FALSE(open("postgresql://db/jitgate").isOk());  // no user
  auto st = open("mysql://u:hunter2@h/db").status();
  EXPECT_EQ(st.message().find("hunter2"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace jg::store
