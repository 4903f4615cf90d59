// Subcommand registration and the command-line grammar of the `jitgate` binary.
//
// Each command lives in its own cmd_<name>.cc and registers itself with JITGATE_COMMAND;
// runCommandLine() adds nothing itself: main() adds every registered command to the CLI11 app and
// hands it over. A command's callback reports its exit status through setExitCode(), or throws a
// CLI::ParseError for a usage error it finds itself (it becomes exit status 2 like CLI11's own).
//
// Exit status, the same for every command (docs/cli.md): 0 success; 1 the command ran and the
// answer is no (refused, a failed check, not found, not signed in); 2 a usage error (unknown
// command or option, missing or bad value) or input the command cannot use. Help and --version
// exit 0; a bare `jitgate` prints the help and exits 0.
//
// Commands run on the main thread only; the registry and the exit status are process globals.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <iosfwd>
#include <vector>

namespace jg::cli {

constexpr int kExitOk = 0;
constexpr int kExitNo = 1;
constexpr int kExitUsage = 2;

using CommandAdder = void (*)(CLI::App& app);

std::vector<CommandAdder>& registeredCommands();
void setExitCode(int code);
int exitCode();

// Parses argv with `app`, runs the chosen command and returns the process exit status. Help and
// version go to `out`; usage errors go to `err` with a hint, and return kExitUsage. A word that
// names no command where only a command can stand is refused with the valid commands listed; a
// command group without its command prints the group's help to `err` (kExitUsage).
int runCommandLine(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                   std::ostream& err);

struct CommandRegistration {
  explicit CommandRegistration(CommandAdder adder) { registeredCommands().push_back(adder); }
};

}  // namespace jg::cli

#define JITGATE_COMMAND(adder) \
  static const ::jg::cli::CommandRegistration jitgate_command_registration_##adder(adder)
