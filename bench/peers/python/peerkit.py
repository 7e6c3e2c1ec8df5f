"""Shared helpers of the Python peers of spindle's benchmark workloads (bench/peers/python/w*.py).

Every peer takes the command line of `spindle bench` for one workload, so that `spindle bench --compare` can run
them all the same way:

  --arg KEY=VALUE   repeatable; only the keys the C++ workload declares (anything else: exit 2)
  --variant V       repeatable; only these variants (none given: all of them; an unknown one: exit 2)
  --quick           the C++ workload's --quick sizes as defaults
  --json            one JSON object per line instead of `ID key=value ...`

and prints one line per measurement on stdout in spindle bench's format (nothing else goes to stdout).

A count that CPython cannot run in ~20 s on a 2-vCPU VM has a `cap` here: a larger count (the default, or one
given with --arg, as `spindle bench --compare` passes every key's resolved value) runs at the cap instead, is
printed as such in the count key, and the line ends in `scaled_from=<the count asked for>`. Only per-item figures
stay comparable then; totals (seconds) do not.
"""
import argparse
import json
import math
import re
import resource
import sys

MASK64 = (1 << 64) - 1  # uint64_t arithmetic: sums wrap modulo 2**64 as in the C++ workloads


class Count:
    """One `--arg` count key: an integer in [1, max] that is a multiple of `multiple_of` (as bench/registry.cpp)."""

    def __init__(self, default, quick=None, max=1_000_000_000, multiple_of=1, cap=None):
        self.default = default
        self.quick = default if quick is None else quick
        self.max = max
        self.multiple_of = multiple_of
        self.cap = cap  # the most this peer runs (a multiple of multiple_of): CPython cannot run more in time


class Choice:
    """One `--arg` key of the C++ workload that takes a word (W10's `report=no|yes`): checked, kept as a string."""

    def __init__(self, default, values):
        self.default = default
        self.values = tuple(values)


class Options:
    """The resolved command line: `args[key]` (int), `scaled_from[key]`, the selected variants, --json."""

    def __init__(self, workload, args, scaled_from, variants, json_lines):
        self.workload = workload
        self.args = args
        self.scaled_from = scaled_from
        self.variants = variants
        self.json = json_lines

    def __getitem__(self, key):
        return self.args[key]

    def selected(self, variant):
        """True if `variant` was asked for (or no --variant was given)."""
        return not self.variants or variant in self.variants


def parse(workload, params, variants=(), argv=None):
    """Parses the command line against the keys (`{name: Count}`) and variants the C++ workload declares."""
    parser = argparse.ArgumentParser(prog=f"{workload} python peer",
                                     description=(sys.modules["__main__"].__doc__ or "").split("\n")[0])
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="a size, repeatable; keys: " + (", ".join(params) or "none"))
    parser.add_argument("--variant", action="append", default=[], metavar="V",
                        help="only this variant, repeatable; variants: " + (", ".join(variants) or "none"))
    parser.add_argument("--quick", action="store_true", help="the C++ workload's --quick sizes")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    ns = parser.parse_args(argv)

    for v in ns.variant:
        if v not in variants:
            parser.error(f"{workload}: unknown variant '{v}' ("
                         + (f"variants: {', '.join(variants)}" if variants else f"{workload} has no variants") + ")")
    given = {}
    for a in ns.arg:
        key, eq, value = a.partition("=")
        if key not in params:
            parser.error(f"{workload}: unknown --arg '{key}' ("
                         + (f"keys: {', '.join(params)}" if params else f"{workload} takes none") + ")")
        if not eq:
            parser.error(f"{workload}: --arg '{a}' needs a value: {key}=VALUE")
        p = params[key]
        if isinstance(p, Choice):
            if value not in p.values:
                parser.error(f"{workload}: bad value '{value}' for --arg {key}: one of {', '.join(p.values)}")
            given[key] = value
            continue
        if not re.fullmatch(r"-?[0-9]+", value):
            parser.error(f"{workload}: bad value '{value}' for --arg {key}: not a whole number")
        n = int(value)
        if not 1 <= n <= p.max:
            parser.error(f"{workload}: bad value '{value}' for --arg {key}: expected 1 to {p.max}")
        if n % p.multiple_of:
            parser.error(f"{workload}: bad value '{value}' for --arg {key}: must be a multiple of {p.multiple_of}")
        given[key] = n

    args, scaled_from = {}, {}
    for key, p in params.items():
        if isinstance(p, Choice):
            args[key] = given.get(key, p.default)
            continue
        args[key] = given.get(key, p.quick if ns.quick else p.default)
        if p.cap is not None and args[key] > p.cap:
            scaled_from[key] = args[key]
            args[key] = p.cap
    return Options(workload, args, scaled_from, list(ns.variant), ns.json)


class Line:
    """One measurement line: `Line(options).add("tasks", n).add("seconds", s).emit()`."""

    def __init__(self, options, peer="python"):
        self.options = options
        self.fields = []
        self.add("peer", peer)

    def add(self, key, value, precision=4):
        """Adds `key=value`: a float in fixed notation with `precision` decimals (4 unless given), as the C++."""
        if isinstance(value, float):
            text = f"{value:.{precision}f}"
            value = float(text) if math.isfinite(value) else None  # JSON: the figure as printed, or null
        else:
            text = str(value)
        assert text and " " not in text, (key, text)
        self.fields.append((key, value, text))
        return self

    def scaled(self, key):
        """Adds `scaled_from=<the count asked for>` if the count `key` was capped."""
        if key in self.options.scaled_from:
            self.add("scaled_from", self.options.scaled_from[key])
        return self

    def emit(self):
        """Prints the line to stdout (`ID key=value ...`, or a JSON object with --json) and flushes."""
        if self.options.json:
            obj = {"workload": self.options.workload}
            obj.update((key, value) for key, value, _ in self.fields)
            print(json.dumps(obj), flush=True)
        else:
            words = [self.options.workload] + [f"{key}={text}" for key, _, text in self.fields]
            print(" ".join(words), flush=True)


def maxrss_kb():
    """Peak resident set size of this process in KiB (getrusage(RUSAGE_SELF).ru_maxrss on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def check(what, got, expected):
    """The self-check: True if `got` is the expected result; otherwise says so on stderr."""
    if got == expected:
        return True
    print(f"{what}: wrong sum {got}, expected {expected}", file=sys.stderr)
    return False

