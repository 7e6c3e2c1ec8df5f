#pragma once
// Subcommands of the spindle tool. Each file defines one and registers it with a static Command.

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace spindle::cli {

/// A subcommand: `add` attaches it to the app; its callback stores its exit status in `rc`.
struct Command {
  std::function<void(CLI::App& app, int& rc)> add;
};

/// Every registered subcommand.
std::vector<Command>& commands();

/// Registers a subcommand at static-initialisation time.
struct RegisterCommand {
  explicit RegisterCommand(std::function<void(CLI::App&, int&)> add) { commands().push_back({std::move(add)}); }
};

}  // namespace spindle::cli
