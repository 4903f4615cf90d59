#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/command.h"
#include "core/log.h"
#include "core/log_fields.h"

int main(int argc, char** argv) {
  CLI::App app{"jitgate: a just-in-time access gateway for the data AI pipelines read", "jitgate"};
  app.set_version_flag("--version", std::string("jitgate ") + JITGATE_VERSION);
  app.require_subcommand(1);
  app.footer("Exit status: 0 success, 1 refused or failed check, 2 usage error (docs/cli.md).");
  // Commands log warnings and errors to stderr, never to the stdout their output goes to.
  jg::log::setup(jg::log::Format::kText, "warn");
  for (auto adder : jg::cli::registeredCommands()) {
    adder(app);
  }
  return jg::cli::runCommandLine(app, argc, argv, std::cout, std::cerr);
}
