#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"jitgate: a just-in-time access gateway for the data AI pipelines read"};
  app.set_version_flag("--version", std::string("jitgate ") + JITGATE_VERSION);
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
