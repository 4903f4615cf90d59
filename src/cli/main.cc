#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/command.h"

namespace jg::cli {

std::vector<CommandAdder>& registeredCommands() {
  static std::vector<CommandAdder> commands;
  return commands;
}

namespace {
int gExitCode = 0;
}
void setExitCode(int code) {
  gExitCode = code;
}
int exitCode() {
  return gExitCode;
}

}  // namespace jg::cli

int main(int argc, char** argv) {
  CLI::App app{"jitgate: a just-in-time access gateway for the data AI pipelines read"};
  app.set_version_flag("--version", std::string("jitgate ") + JITGATE_VERSION);
  app.require_subcommand(1);
  for (auto adder : jg::cli::registeredCommands()) {
    adder(app);
  }
  CLI11_PARSE(app, argc, argv);
  return jg::cli::exitCode();
}
