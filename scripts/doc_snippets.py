#!/usr/bin/env python3
"""Doc-tests for spindle: every ```cpp block of README.md and docs/**/*.md becomes compiled (and, where it says
so, run) code, so the docs cannot show code that does not work.

A block's marker is an HTML comment that ends on the line just before its fence (invisible when rendered):

    <!-- doctest: run -->           a whole program (it has main): built as its own executable and run; exit 0 passes
    <!-- doctest: fragment -->      statements: compiled inside `void snippet() { ... }` (not run)
    <!-- doctest: fragment run -->  statements: compiled inside `void snippet()`, and the test calls it
    <!-- doctest: compile -->       declarations and definitions at namespace scope: compiled (not run)
    <!-- doctest: skip REASON -->   not compiled (the reason is required: shell output, pseudo-code, ...)

A block without a marker is `run` if it defines `main(`, else `fragment`. Lines after the first line of the
marker, up to `-->`, are hidden set-up code placed before the block (for what the prose around the block
defines: a type, a variable). Every block gets `using namespace std::chrono_literals;` and, unless it is a
whole program, the prelude tests/docs/prelude.hpp (spindle's headers and the standard ones). `#include` lines
of a fragment are moved to the top of its file.

Fences other than C++ are not compiled, but each must name its language (```sh, ```cmake, ```text, ...):
a bare ``` could hide C++ from the doc-tests. An unknown marker or language is an error.

Usage:
  doc_snippets.py generate --root SRC --out DIR     write the sources and DIR/manifest.cmake (at configure time)
  doc_snippets.py check --root SRC --out DIR        exit 1 unless every C++ block of the docs as they are now is
                                                    in the manifest that the build used (the coverage test)
  doc_snippets.py lint FILE...                      parse these files only (the extractor's own tests)
"""

import argparse
import pathlib
import re
import sys

CPP_LANGS = {"cpp", "c++", "cxx"}
OTHER_LANGS = {"sh", "bash", "console", "cmake", "text", "json", "python", "ini", "yaml", "diff", "html"}
KINDS = {"run", "fragment", "compile", "skip"}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)\s*$")


class DocError(Exception):
  pass


class Block:
  def __init__(self, doc, line, kind, run, setup, setup_line, code, reason=""):
    self.doc, self.line, self.kind, self.run = doc, line, kind, run
    self.setup, self.setup_line, self.code, self.reason = setup, setup_line, code, reason


def doc_files(root):
  files = [root / "README.md"] + sorted((root / "docs").rglob("*.md"))
  return [f for f in files if f.is_file()]


def parse_marker(lines, fence_index, where):
  """Returns (kind words, hidden set-up lines, line number of the first set-up line) for the marker ending on
  the line before lines[fence_index], or None if there is none."""
  end = fence_index - 1
  if end < 0 or not lines[end].rstrip().endswith("-->"):
    return None
  start = end
  while start >= 0 and "<!--" not in lines[start]:
    start -= 1
  if start < 0:
    return None
  head = lines[start].strip()
  if not head.startswith("<!-- doctest:"):
    if "doctest" in head:
      raise DocError(f"{where}: a doctest marker is spelled `<!-- doctest: KIND -->`, not `{head}`")
    return None
  body = [lines[start][lines[start].index("<!-- doctest:") + len("<!-- doctest:"):]] + lines[start + 1:end + 1]
  body[-1] = body[-1].rstrip()[:-3]  # drop the closing -->
  words = body[0].split()
  return words, body[1:], start + 2


def parse(path, rel):
  """Every C++ block of one Markdown file, as Blocks; raises DocError on an unknown marker or language."""
  lines = path.read_text(encoding="utf-8").split("\n")
  blocks, problems = [], []
  i = 0
  while i < len(lines):
    m = FENCE.match(lines[i])
    if not m:
      i += 1
      continue
    indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
    start = i
    j = i + 1
    while j < len(lines) and not (lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""):
      j += 1
    if j >= len(lines):
      raise DocError(f"{rel}:{start + 1}: the code block is never closed")
    where = f"{rel}:{start + 1}"
    marker = parse_marker(lines, start, where)
    code = [l[len(indent):] if l.startswith(indent) else l for l in lines[start + 1:j]]
    i = j + 1
    if lang not in CPP_LANGS:
      if marker is not None:
        raise DocError(f"{where}: a doctest marker on a ```{lang} block (only C++ blocks are tested)")
      if lang == "":
        problems.append(f"{where}: a code block without a language: write ```cpp (tested) or ```text, ```sh, ...")
      elif lang not in OTHER_LANGS:
        problems.append(f"{where}: unknown code block language `{lang}` (known: cpp, "
                        f"{', '.join(sorted(OTHER_LANGS))})")
      continue
    if marker is None:
      has_main = any(re.match(r"\s*(int|auto)\s+main\s*\(", l) for l in code)
      words, setup, setup_line = (["run"] if has_main else ["fragment"]), [], start + 1
    else:
      words, setup, setup_line = marker
    if not words or words[0] not in KINDS:
      raise DocError(f"{where}: unknown doctest marker `{' '.join(words)}` (known: run, fragment, fragment run, "
                     f"compile, skip REASON)")
    kind, rest = words[0], words[1:]
    run = kind == "run"
    if kind == "fragment" and rest == ["run"]:
      run = True
    elif kind == "skip":
      if not rest:
        raise DocError(f"{where}: `doctest: skip` needs a reason")
    elif rest:
      raise DocError(f"{where}: unknown doctest marker `{' '.join(words)}`")
    if kind in ("run", "skip") and setup:
      raise DocError(f"{where}: a `{kind}` block takes no hidden set-up code")
    blocks.append(Block(rel, start + 1, kind, run, setup, setup_line, code, " ".join(rest) if kind == "skip" else ""))
  return blocks, problems


def stem_of(rel):
  return re.sub(r"[^A-Za-z0-9]+", "_", rel[:-3] if rel.endswith(".md") else rel).strip("_")


def line_directive(n, path):
  return f'#line {n} "{path}"'


def unit_source(rel, src_path, blocks):
  """One translation unit for every fragment/compile block of a doc, each in its own namespace, and a main that
  runs the block named on its command line (if it is runnable) or confirms it was compiled in."""
  includes = []
  out = [f"// Generated from {rel} by scripts/doc_snippets.py: edit the doc, not this file.",
         '#include "prelude.hpp"', "#include <cstdio>", "#include <cstdlib>", "#include <string>", ""]
  body = []
  for b in blocks:
    ns = f"doc_line_{b.line}"
    body.append(f"namespace {ns} {{")
    body.append("using namespace std::chrono_literals;")
    if b.setup:
      body.append(line_directive(b.setup_line, src_path))
      body.extend(b.setup)
    code = []
    for n, l in enumerate(b.code):
      if l.lstrip().startswith("#include"):
        includes.append(line_directive(b.line + 1 + n, src_path))
        includes.append(l.strip())
        code.append("")
      else:
        code.append(l)
    if b.kind == "fragment":
      body.append("[[maybe_unused]] void snippet() {")
    body.append(line_directive(b.line + 1, src_path))
    body.extend(code)
    if b.kind == "fragment":
      body.append("}")
    body.append(f"}}  // namespace {ns}")
    body.append("")
  table = []
  for b in blocks:
    fn = f"&doc_line_{b.line}::snippet" if b.run else "nullptr"
    table.append(f"    {{{b.line}, {fn}}},")
  main = ["namespace {",
          "struct DocBlock {",
          "  int line;",
          "  void (*run)();",
          "};",
          "const DocBlock kBlocks[] = {",
          *table,
          "};",
          "}  // namespace",
          "",
          "// doc_X LINE: runs the block that starts at LINE if it is runnable; a compile-only block passed by being",
          "// compiled into this program. An unknown LINE fails (the CTest list and the doc disagree).",
          "int main(int argc, char** argv) {",
          "  if (argc != 2) {",
          f'    std::fprintf(stderr, "usage: %s LINE (a code block of {rel})\\n", argv[0]);',
          "    return 2;",
          "  }",
          "  const int line = std::atoi(argv[1]);",
          "  for (const DocBlock& block : kBlocks) {",
          "    if (block.line != line) continue;",
          "    if (block.run == nullptr) {",
          f'      std::printf("{rel}:%d compiled (not run: a compile-only block)\\n", line);',
          "      return 0;",
          "    }",
          "    block.run();",
          f'    std::printf("{rel}:%d ran\\n", line);',
          "    return 0;",
          "  }",
          f'  std::fprintf(stderr, "{rel} has no code block at line %d\\n", line);',
          "  return 1;",
          "}"]
  return "\n".join(out + includes + [""] + body + main) + "\n"


def program_source(rel, src_path, block):
  return "\n".join([f"// Generated from {rel}:{block.line} by scripts/doc_snippets.py: edit the doc, not this file.",
                    line_directive(block.line + 1, src_path)] + block.code) + "\n"


def write_if_changed(path, text):
  if path.exists() and path.read_text(encoding="utf-8") == text:
    return
  path.write_text(text, encoding="utf-8")


def collect(root):
  all_blocks, problems = [], []
  for f in doc_files(root):
    rel = f.relative_to(root).as_posix()
    blocks, p = parse(f, rel)
    all_blocks.extend(blocks)
    problems.extend(p)
  return all_blocks, problems


def manifest_lines(blocks):
  """The list of blocks as the build knows them: `doc line kind` per block (what `check` compares)."""
  return [f"{b.doc} {b.line} {b.kind}{' run' if b.run and b.kind != 'run' else ''}" for b in blocks]


def generate(root, out):
  blocks, problems = collect(root)
  for p in problems:  # the coverage test fails on these; the build goes on
    print(f"doc_snippets: warning: {p}", file=sys.stderr)
  out.mkdir(parents=True, exist_ok=True)
  cmake = ["# Generated by scripts/doc_snippets.py: the doc-tests of this build."]
  wanted = {"manifest.cmake", "manifest.txt"}
  by_doc = {}
  for b in blocks:
    by_doc.setdefault(b.doc, []).append(b)
  for rel, doc_blocks in by_doc.items():
    src_path = (root / rel).as_posix()
    stem = stem_of(rel)
    unit = [b for b in doc_blocks if b.kind in ("fragment", "compile")]
    if unit:
      name = f"doc_{stem}.cpp"
      wanted.add(name)
      write_if_changed(out / name, unit_source(rel, src_path, unit))
      lines = " ".join(str(b.line) for b in unit)
      cmake.append(f'spindle_doc_unit({stem} "{rel}" "${{CMAKE_CURRENT_BINARY_DIR}}/snippets/{name}" {lines})')
    for b in doc_blocks:
      if b.kind == "run":
        name = f"{stem}_{b.line}.cpp"
        wanted.add(name)
        write_if_changed(out / name, program_source(rel, src_path, b))
        cmake.append(f'spindle_doc_program({stem}_{b.line} "{rel}" {b.line} '
                     f'"${{CMAKE_CURRENT_BINARY_DIR}}/snippets/{name}")')
      elif b.kind == "skip":
        cmake.append(f'spindle_doc_skipped("{rel}" {b.line} "{b.reason}")')
  for stale in out.iterdir():
    if stale.name not in wanted:
      stale.unlink()
  write_if_changed(out / "manifest.cmake", "\n".join(cmake) + "\n")
  write_if_changed(out / "manifest.txt", "\n".join(manifest_lines(blocks)) + "\n")
  return 0


def check(root, out):
  blocks, problems = collect(root)
  ok = True
  for p in problems:
    print(f"FAIL {p}")
    ok = False
  manifest = out / "manifest.txt"
  built = manifest.read_text(encoding="utf-8").split("\n") if manifest.exists() else []
  built = [l for l in built if l]
  now = manifest_lines(blocks)
  for l in now:
    if l not in built:
      print(f"FAIL {l}: this block is not in the build's doc-tests (re-run CMake)")
      ok = False
  for l in built:
    if l not in now:
      print(f"FAIL {l}: the build tests a block that the doc no longer has (re-run CMake)")
      ok = False
  print(f"{len(now)} C++ blocks in {len({b.doc for b in blocks})} docs: "
        f"{sum(b.kind == 'run' for b in blocks)} programs run, "
        f"{sum(b.kind == 'fragment' and b.run for b in blocks)} fragments run, "
        f"{sum(b.kind in ('fragment', 'compile') and not b.run for b in blocks)} compiled only, "
        f"{sum(b.kind == 'skip' for b in blocks)} skipped")
  return 0 if ok else 1


def lint(files):
  ok = True
  for f in files:
    try:
      _, problems = parse(pathlib.Path(f), f)
    except DocError as e:
      print(f"error: {e}")
      ok = False
      continue
    for p in problems:
      print(f"error: {p}")
      ok = False
  return 0 if ok else 1


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("mode", choices=["generate", "check", "lint"])
  ap.add_argument("--root", type=pathlib.Path)
  ap.add_argument("--out", type=pathlib.Path)
  ap.add_argument("files", nargs="*")
  args = ap.parse_args()
  try:
    if args.mode == "lint":
      return lint(args.files)
    if args.root is None or args.out is None:
      ap.error("generate and check need --root and --out")
    root = args.root.resolve()
    return generate(root, args.out) if args.mode == "generate" else check(root, args.out)
  except DocError as e:
    print(f"doc_snippets: error: {e}", file=sys.stderr)
    return 1


if __name__ == "__main__":
  sys.exit(main())
