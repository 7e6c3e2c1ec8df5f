// `spindle`: the command-line front of the library. Subcommands register themselves in commands.hpp's table,
// so that the lab, the advisor and the benchmarks each live in their own file.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.hpp"

namespace {

// A usage error, whichever command and whatever CLI11 found wrong: one message naming the problem, and exit
// status 2 (as Python's argparse), never CLI11's own codes (106, 109, ...).
int usage_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  std::sort(names.begin(), names.end());
  std::string commands;
  for (const auto& n : names) commands += (commands.empty() ? "" : ", ") + n;
  const auto parsed = app.get_subcommands();
  if (parsed.empty()) {
    // No command was recognised: name the word that should have been one.
    for (int i = 1; i < argc; ++i) {
      const std::string word = argv[i];
      if (word.empty() || word[0] != '-') {
        std::fprintf(stderr, "spindle: unknown command '%s' (commands: %s)\n", word.c_str(), commands.c_str());
        return 2;
      }
    }
    if (argc > 1) {
      std::fprintf(stderr, "spindle: %s (commands: %s; see spindle --help)\n", e.what(), commands.c_str());
    } else {
      std::fprintf(stderr, "spindle: a command is required (commands: %s; see spindle --help)\n", commands.c_str());
    }
    return 2;
  }
  const CLI::App* sub = parsed.back();
  std::fprintf(stderr, "spindle %s: %s\n", sub->get_name().c_str(), e.what());
  if (!sub->get_footer().empty()) {
    std::fprintf(stderr, "%s\n", sub->get_footer().c_str());  // the command's usage line
  } else {
    std::fprintf(stderr, "see spindle %s --help\n", sub->get_name().c_str());
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spindle: Python's three concurrency models (threads, processes, async) in C++20, and a lab that "
               "measures which one a piece of work needs."};
  app.set_version_flag("--version", std::string("spindle ") + SPINDLE_VERSION);
  app.require_subcommand(1);
  int rc = 0;
  for (auto& command : spindle::cli::commands()) command.add(app, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    return usage_error(app, e, argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spindle: %s\n", e.what());
    return 1;
  }
  return rc;
}
