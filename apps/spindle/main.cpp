// `spindle`: the command-line front of the library. Subcommands register themselves in commands.hpp's table,
// so that the lab, the advisor and the benchmarks each live in their own file.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"

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
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spindle: %s\n", e.what());
    return 1;
  }
  return rc;
}
