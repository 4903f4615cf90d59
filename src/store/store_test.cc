#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "core/random.h"

namespace jg::store {
namespace {

std::vector<Migration> notesV1() {
  return {{1, "notes", {"CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)"}}};
}

TEST(Store, MigrationsApplyOnceInOrderPerComponent) {
  auto store = open("sqlite::memory:");
  ASSERT_TRUE(store.isOk()) << store.status().message();
  auto& s = **store;
  ASSERT_TRUE(s.migrate("notes", notesV1()).isOk());
  ASSERT_TRUE(s.migrate("notes", notesV1()).isOk());  // idempotent
  EXPECT_EQ(*s.schemaVersion("notes"), 1);
  EXPECT_EQ(*s.schemaVersion("other"), 0);
  auto v2 = notesV1();
  v2.push_back({2,
                "tags",
                {"ALTER TABLE notes ADD COLUMN tag TEXT", "CREATE INDEX notes_tag ON notes(tag)"}});
  ASSERT_TRUE(s.migrate("notes", v2).isOk());
  EXPECT_EQ(*s.schemaVersion("notes"), 2);
  // An older binary must not run against a newer schema.
  EXPECT_FALSE(s.migrate("notes", notesV1()).isOk());
}

TEST(Store, FailedMigrationLeavesTheVersionUnchanged) {
  auto store = open("sqlite::memory:");
  ASSERT_TRUE(store.isOk());
  auto bad = notesV1();
  bad.push_back({2, "broken", {"ALTER TABLE notes ADD COLUMN x TEXT", "NOT SQL"}});
  Status st = (*store)->migrate("notes", bad);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("migration notes v2"), std::string::npos);
  EXPECT_EQ(*(*store)->schemaVersion("notes"), 1);
  // The partial step was rolled back: column x does not exist.
  EXPECT_FALSE((*store)->query("SELECT x FROM notes", {}, [](const Row&) { return true; }).isOk());
}

TEST(Store, TransactionsCommitOrRollBack) {
  auto store = open("sqlite::memory:");
  ASSERT_TRUE(store.isOk());
  auto& s = **store;
  ASSERT_TRUE(s.migrate("notes", notesV1()).isOk());
  ASSERT_TRUE(s.transaction([](Tx& tx) {
                 return tx.exec("INSERT INTO notes(body) VALUES (?)", {std::string("kept")});
               }).isOk());
  EXPECT_FALSE(s.transaction([](Tx& tx) -> Status {
                  (void)tx.exec("INSERT INTO notes(body) VALUES (?)", {std::string("dropped")});
                  return invalidArgument("changed my mind");
                }).isOk());
  std::vector<std::string> bodies;
  ASSERT_TRUE(s.query("SELECT body FROM notes ORDER BY id", {}, [&](const Row& r) {
                 bodies.push_back(asString(r[0]));
                 return true;
               }).isOk());
  EXPECT_EQ(bodies, std::vector<std::string>{"kept"});
}

TEST(Store, ValuesRoundTripWithTypes) {
  auto store = open("sqlite::memory:");
  ASSERT_TRUE(store.isOk());
  auto& s = **store;
  ASSERT_TRUE(s.transaction([](Tx& tx) {
                 return tx.exec("CREATE TABLE v(a INTEGER, b REAL, c TEXT, d TEXT)");
               }).isOk());
  ASSERT_TRUE(s.transaction([](Tx& tx) {
                 return tx.exec("INSERT INTO v VALUES (?, ?, ?, ?)",
                                {int64_t{1} << 40, 2.5, std::string("x\0y", 3), Value{}});
               }).isOk());
  Row got;
  ASSERT_TRUE(s.query("SELECT a, b, c, d FROM v", {}, [&](const Row& r) {
                 got = r;
                 return true;
               }).isOk());
  EXPECT_EQ(asInt(got[0]), int64_t{1} << 40);
  EXPECT_EQ(std::get<double>(got[1]), 2.5);
  EXPECT_EQ(asString(got[2]), std::string("x\0y", 3));
  EXPECT_TRUE(isNull(got[3]));
  EXPECT_FALSE(s.query("SELECT ?", {}, [](const Row&) { return true; }).isOk());
}

TEST(Store, FileDatabaseIsSharedAcrossOpensInWalMode) {
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
    int n = 0;
    ASSERT_TRUE((*b)->query("SELECT count(*) FROM notes", {},
                            [&](const Row& r) {
                              n = static_cast<int>(asInt(r[0]));
                              return false;
                            })
                    .isOk());
    EXPECT_EQ(n, 1);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST(Store, UrlsAreValidated) {
  EXPECT_FALSE(open("mysql://x").isOk());
  EXPECT_FALSE(open("sqlite://").isOk());
  EXPECT_FALSE(open("postgresql://db/jitgate").isOk());
}

TEST(Store, ConcurrentTransactionsAreSerialized) {
  auto store = open("sqlite::memory:");
  ASSERT_TRUE(store.isOk());
  auto& s = **store;
  ASSERT_TRUE(s.migrate("notes", notesV1()).isOk());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(s.transaction([](Tx& tx) {
                       return tx.exec("INSERT INTO notes(body) VALUES ('x')");
                     }).isOk());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  int64_t n = 0;
  ASSERT_TRUE(s.query("SELECT count(*) FROM notes", {}, [&](const Row& r) {
                 n = asInt(r[0]);
                 return false;
               }).isOk());
  EXPECT_EQ(n, 200);
}

}  // namespace
}  // namespace jg::store
