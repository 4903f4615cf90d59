#include "cli/command.h"

#include <gtest/gtest.h>

#include <sstream>

namespace jg::cli {
namespace {

// A small tree shaped like the real one: a group with commands, a leaf with a positional and a
// fixed-set option, and a command with both a positional and a subcommand.
struct Fixture {
  CLI::App app{"test app", "jitgate"};
  std::string decision;
  std::string resource;
  bool ran = false;
  std::ostringstream out;
  std::ostringstream err;

  Fixture() {
    app.require_subcommand(1);
    app.set_version_flag("--version", "jitgate 9.9");
    auto* group = app.add_subcommand("review", "Reviews");
    group->require_subcommand(1);
    auto* list = group->add_subcommand("list", "List reviews");
    list->callback([this] { ran = true; });
    auto* search = app.add_subcommand("search", "Search");
    search->add_option("--decision", decision)->check(CLI::IsMember({"allow", "deny", "review"}));
    search->add_option("--config", resource)->required();
    search->callback([] { setExitCode(kExitNo); });
    auto* request = app.add_subcommand("request", "Request");
    request->add_option("resource", resource);
    request->add_subcommand("status", "Status");
    request->callback([] { throw CLI::RequiredError("RESOURCE and --reason are required"); });
  }

  int run(std::vector<const char*> args) {
    args.insert(args.begin(), "jitgate");
    return runCommandLine(app, static_cast<int>(args.size()), args.data(), out, err);
  }
};

TEST(CommandLine, BareInvocationPrintsHelpAndSucceeds) {
  Fixture f;
  EXPECT_EQ(f.run({}), kExitOk);
  EXPECT_NE(f.out.str().find("review"), std::string::npos) << f.out.str();
  EXPECT_TRUE(f.err.str().empty());
}

TEST(CommandLine, UnknownCommandIsAUsageErrorThatListsTheCommands) {
  Fixture f;
  EXPECT_EQ(f.run({"reveiw"}), kExitUsage);
  EXPECT_NE(f.err.str().find("unknown command 'reveiw' (one of: review, search, request)"),
            std::string::npos)
      << f.err.str();
}

TEST(CommandLine, UnknownNestedCommandNamesItsGroup) {
  Fixture f;
  EXPECT_EQ(f.run({"review", "lsit"}), kExitUsage);
  EXPECT_NE(f.err.str().find("jitgate review: unknown command 'lsit' (one of: list)"),
            std::string::npos)
      << f.err.str();
}

TEST(CommandLine, GroupWithoutCommandPrintsItsHelpAsAUsageError) {
  Fixture f;
  EXPECT_EQ(f.run({"review"}), kExitUsage);
  EXPECT_NE(f.err.str().find("jitgate review: a command is required (one of: list)"),
            std::string::npos);
  EXPECT_NE(f.err.str().find("List reviews"), std::string::npos) << f.err.str();
  EXPECT_NE(f.err.str().find("Usage: jitgate review"), std::string::npos) << f.err.str();
}

TEST(CommandLine, AWordAfterACommandWithPositionalsIsItsArgument) {
  Fixture f;
  EXPECT_EQ(f.run({"request", "kb"}), kExitUsage);  // the callback's own usage error
  EXPECT_EQ(f.resource, "kb");
  EXPECT_NE(f.err.str().find("RESOURCE and --reason are required"), std::string::npos);
}

TEST(CommandLine, ValueOutsideAFixedSetListsTheValidOnes) {
  Fixture f;
  EXPECT_EQ(f.run({"search", "--config", "x", "--decision", "maybe"}), kExitUsage);
  EXPECT_NE(f.err.str().find("allow,deny,review"), std::string::npos) << f.err.str();
}

TEST(CommandLine, MissingRequiredOptionIsAUsageError) {
  Fixture f;
  EXPECT_EQ(f.run({"search"}), kExitUsage);
  EXPECT_NE(f.err.str().find("--config is required"), std::string::npos) << f.err.str();
}

TEST(CommandLine, UnknownOptionIsAUsageError) {
  Fixture f;
  EXPECT_EQ(f.run({"review", "list", "--nope"}), kExitUsage);
  EXPECT_FALSE(f.ran);
}

TEST(CommandLine, TheCommandsOwnExitStatusIsReturned) {
  Fixture f;
  EXPECT_EQ(f.run({"search", "--config", "x"}), kExitNo);
  Fixture g;
  EXPECT_EQ(g.run({"review", "list"}), kExitOk);
  EXPECT_TRUE(g.ran);
}

TEST(CommandLine, HelpAndVersionSucceedOnStandardOutput) {
  Fixture f;
  EXPECT_EQ(f.run({"review", "list", "--help"}), kExitOk);
  EXPECT_NE(f.out.str().find("List reviews"), std::string::npos) << f.out.str();
  Fixture g;
  EXPECT_EQ(g.run({"--version"}), kExitOk);
  EXPECT_NE(g.out.str().find("jitgate 9.9"), std::string::npos);
}

}  // namespace
}  // namespace jg::cli
