#!/usr/bin/env bash
# Lint: every tracked C++ file must be formatted by .clang-format; the C++ files a change touches (outside
# tests/) must pass clang-tidy with .clang-tidy. The change is what came since BASE (default: the last commit older than 12 hours,
# i.e. the work of the submission CI checks; every file when the history is younger).
# Usage: scripts/lint.sh [BUILD_DIR_WITH_compile_commands.json] [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
base=${2:-$(git rev-list -1 --before='12 hours ago' HEAD 2>/dev/null || true)}

mapfile -t all < <(git ls-files '*.cpp' '*.hpp' '*.h')
unformatted=()
for f in "${all[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if ((${#unformatted[@]})); then
  echo "lint: not formatted by .clang-format (run: clang-format -i FILE):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  exit 1
fi
echo "lint: ${#all[@]} C++ files formatted"

[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json: configure first" >&2; exit 1; }
if [ -n "$base" ]; then
  mapfile -t changed < <(git diff --name-only --diff-filter=AM "$base" HEAD -- '*.cpp')
else
  changed=("${all[@]}")
fi
# clang-tidy takes translation units: the changed sources that the build compiles (headers are checked
# through them, HeaderFilterRegex).
units=()
for f in "${changed[@]}"; do
  [[ $f == tests/* ]] && continue  # the library, the tool, benchmarks, labs and examples; tests follow gtest's idioms
  [[ $f == *.cpp ]] && grep -q "\"file\": \"[^\"]*/$f\"" "$build/compile_commands.json" && units+=("$f")
done
echo "lint: clang-tidy on ${#units[@]} changed translation unit(s)${base:+ since ${base:0:12}}"
((${#units[@]})) || exit 0
printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>/dev/null
echo "lint: clang-tidy clean"
