// Subcommand registration for the `jitgate` binary.
//
// Each command lives in its own cmd_<name>.cc and registers itself with JITGATE_COMMAND; main()
// adds every registered command to the CLI11 app. A command's callback reports its exit status
// through setExitCode(). Commands run on the main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace jg::cli {

using CommandAdder = void (*)(CLI::App& app);

std::vector<CommandAdder>& registeredCommands();
void setExitCode(int code);
int exitCode();

struct CommandRegistration {
  explicit CommandRegistration(CommandAdder adder) { registeredCommands().push_back(adder); }
};

}  // namespace jg::cli

#define JITGATE_COMMAND(adder) \
  static const ::jg::cli::CommandRegistration jitgate_command_registration_##adder(adder)
