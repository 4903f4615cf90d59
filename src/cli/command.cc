#include "cli/command.h"

#include <ostream>
#include <string>
#include <string_view>

namespace jg::cli {

std::vector<CommandAdder>& registeredCommands() {
  static std::vector<CommandAdder> commands;
  return commands;
}

namespace {

int gExitCode = kExitOk;

std::vector<CLI::App*> subcommandsOf(CLI::App& app) {
  return app.get_subcommands([](CLI::App*) { return true; });
}

bool takesPositionals(const CLI::App& app) {
  return !app.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
}

std::string namesOf(const std::vector<CLI::App*>& commands) {
  std::string out;
  for (const CLI::App* c : commands) {
    out += (out.empty() ? "" : ", ") + c->get_name();
  }
  return out;
}

// Follows the leading words of argv down the command tree, where CLI11 alone would report an
// unknown command as an unexpected argument and a bare group as a missing subcommand. Returns
// -1 when CLI11 should parse the line, otherwise the exit status of the error reported.
int checkCommandWords(CLI::App& app, int argc, const char* const* argv, std::ostream& err) {
  CLI::App* current = &app;
  std::string parent;  // the words before current's own name, for its usage line
  std::string path = app.get_name().empty() ? "jitgate" : app.get_name();
  for (int i = 1;; ++i) {
    std::vector<CLI::App*> commands = subcommandsOf(*current);
    if (commands.empty()) {
      return -1;
    }
    if (i >= argc) {
      if (current == &app || current->get_require_subcommand_min() == 0) {
        return -1;
      }
      err << path << ": a command is required (one of: " << namesOf(commands) << ")\n\n"
          << current->help(parent);
      return kExitUsage;
    }
    const std::string_view word = argv[i];
    if (word.starts_with('-')) {
      return -1;
    }
    CLI::App* next = nullptr;
    for (CLI::App* c : commands) {
      if (c->check_name(std::string(word))) {
        next = c;
      }
    }
    if (next == nullptr) {
      if (takesPositionals(*current)) {
        return -1;
      }
      err << path << ": unknown command '" << word << "' (one of: " << namesOf(commands)
          << ")\nRun `" << path << " --help` for more information.\n";
      return kExitUsage;
    }
    current = next;
    parent = path;
    path += " " + next->get_name();
  }
}

}  // namespace

void setExitCode(int code) {
  gExitCode = code;
}

int exitCode() {
  return gExitCode;
}

int runCommandLine(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                   std::ostream& err) {
  gExitCode = kExitOk;
  if (argc <= 1) {
    out << app.help();
    return kExitOk;
  }
  if (int status = checkCommandWords(app, argc, argv, err); status >= 0) {
    return status;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "jitgate: " << e.what() << "\nRun with --help for more information.\n";
    return kExitUsage;
  }
  return gExitCode;
}

}  // namespace jg::cli
