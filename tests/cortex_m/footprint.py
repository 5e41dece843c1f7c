#!/usr/bin/env python3
"""The footprint table of `make size`: what libmqtt_engine.a adds to the Cortex-M4 images,
read from their linker maps, and the peak stack per public call the full image measured.

Usage: footprint.py --map NAME=FILE.map ... --run [NAME=]RUN.log ... [--top N]
                    [--budget size_budget.json [--check]]

With --budget it also prints the rows of the size table (docs/FOOTPRINT.md) beside the figures
recorded in that file; --check fails when a row grew by more than its tolerance (2 %).
"""
import argparse
import json
import re
import subprocess
import sys
from collections import defaultdict

LIBRARY = "libmqtt_engine.a("
# Input section name prefix -> kind. .data is in flash (its initial values) and in RAM.
KINDS = [(".text", "text"), (".rodata", "rodata"), (".data", "data"), (".bss", "bss"),
         ("COMMON", "bss"), (".ARM.exidx", "text"), (".ARM.extab", "text")]
GOALS = {"lite-minimal": 4.9 * 1024, "minimal": 16 * 1024, "full": 20 * 1024}
STACK_GOAL = 1024

SECTION = re.compile(r"^ (\.\S+|COMMON)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+))?$")
CONTINUATION = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$")


def library_sections(map_path):
    """(kind, input section name, size) for every section of the library the linker kept."""
    with open(map_path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        sys.exit(f"{map_path}: not a GNU ld map file")
    pending = None
    for line in lines[start:]:
        m = SECTION.match(line)
        if m:
            name, size, origin = m.group(1), m.group(3), m.group(4)
            if size is None:
                pending = name  # long name: address, size and file follow on the next line
                continue
        else:
            c = CONTINUATION.match(line)
            if not (c and pending):
                pending = None
                continue
            name, size, origin = pending, c.group(2), c.group(3)
        pending = None
        if LIBRARY not in origin:
            continue
        kind = next((k for prefix, k in KINDS if name.startswith(prefix)), None)
        if kind and int(size, 16):
            yield kind, name, int(size, 16)


def totals(map_path):
    sums = defaultdict(int)
    for kind, _, size in library_sections(map_path):
        sums[kind] += size
    flash = sums["text"] + sums["rodata"] + sums["data"]
    ram = sums["data"] + sums["bss"]
    return sums, flash, ram


def demangle(names):
    try:
        out = subprocess.run(["arm-none-eabi-c++filt"], input="\n".join(names), text=True,
                             capture_output=True, check=True).stdout.split("\n")
        return [re.sub(r"::h[0-9a-f]{16}$", "", n) for n in out[: len(names)]]
    except (OSError, subprocess.CalledProcessError):
        return names


def symbol_of(section):
    for prefix in (".text.", ".rodata.", ".data.", ".bss."):
        if section.startswith(prefix):
            return section[len(prefix):]
    return section


CRATES = ("mqtt_engine", "mqttrs", "heapless", "embedded_nal", "compiler_builtins", "core")


def crate_of(section, name):
    """Which crate a library section belongs to, for the per-crate flash split."""
    if name.startswith("mqe_"):
        return "mqtt_engine"
    if ".str1." in section or ".cst" in section or ".Lanon" in section:
        return "constants (merged strings, anonymous tables)"
    if name.startswith("OUTLINED_FUNCTION"):
        return "outlined code (LLVM machine outliner)"
    if re.match(r"(__aeabi_|mem|str)", name):
        return "compiler_builtins"
    found = [(name.find(c), c) for c in CRATES if name.find(c) >= 0]
    return min(found)[1] if found else "other"


MODULES = ("ffi", "client", "engine", "session", "wire", "bytes", "time")


def module_of(name):
    """The library layer (DESIGN.md) of one of its symbols; exported mqe_* functions are ffi."""
    if name.startswith("mqe_"):
        return "ffi"
    for module in MODULES:
        if f"mqtt_engine::{module}::" in name:
            return module
    return "other"


def kb(n):
    return f"{n / 1024:.1f} KB ({n} B)"


def read_run(path):
    """sizeof(mqe_client_t) and the (call, peak, calls) rows an image printed."""
    with open(path, encoding="utf-8", errors="replace") as f:
        run = f.read()
    sizeof = re.search(r"^SIZEOF mqe_client_t (\d+)$", run, re.M)
    stacks = [(m.group(1), int(m.group(2)), int(m.group(3)))
              for m in re.finditer(r"^STACK (\w+) (\d+) calls=(\d+)$", run, re.M)]
    if not sizeof or not stacks:
        sys.exit(f"{path}: no SIZEOF/STACK lines (did the image run to the end?)")
    return int(sizeof.group(1)), stacks


def budget_rows(maps, runs):
    """The size table's rows, measured: row key -> (bytes, what was measured)."""
    rows = {}
    for key, image in (("lite_minimal_flash", "lite-minimal"), ("full_minimal_flash", "minimal"),
                       ("full_every_function_flash", "full")):
        if image in maps:
            rows[key] = totals(maps[image])[1]
    for profile, image in (("lite", "lite-minimal"), ("full", "full")):
        if image in runs:
            sizeof, stacks = runs[image]
            rows[f"{profile}_sizeof_client"] = sizeof
            rows[f"{profile}_peak_stack"] = max(peak for _, peak, _ in stacks)
    return rows


def check_budget(path, rows, check):
    """Prints each row beside its recorded figure; with `check`, False when one grew past its
    tolerance or a recorded row was not measured."""
    with open(path, encoding="utf-8") as f:
        budget = json.load(f)
    tolerance = budget["tolerance_percent"]
    ok = True
    print(f"\nSize budget ({path}; a row may grow {tolerance} % over its figure):\n")
    print("| row | measured | recorded | limit | verdict |")
    print("| --- | ---: | ---: | ---: | --- |")
    for key, entry in budget["rows"].items():
        recorded = entry["bytes"]
        limit = int(recorded * (100 + tolerance) / 100)
        measured = rows.get(key)
        if measured is None:
            verdict, ok = "NOT MEASURED", False
        elif measured > limit:
            verdict, ok = "GREW: shrink it, or update the figure in the same commit", False
        elif measured < recorded:
            verdict = f"ok ({measured - recorded:+} B: record the new figure)"
        else:
            verdict = "ok"
        shown = "-" if measured is None else f"{measured:,} B"
        print(f"| {entry['row']} | {shown} | {recorded:,} B | {limit:,} B | {verdict} |")
    if check and not ok:
        print(f"\nsize-check: a row of {path} grew past its budget (above)", file=sys.stderr)
    return ok or not check


def record_budget(path, rows):
    with open(path, encoding="utf-8") as f:
        budget = json.load(f)
    for key, entry in budget["rows"].items():
        if key in rows:
            entry["bytes"] = rows[key]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(budget, f, indent=2, ensure_ascii=False)
        f.write("\n")


README_BEGIN, README_END = "<!-- size-table -->", "<!-- /size-table -->"


def readme_table(budget):
    """The README's size table, from the recorded figures and their goals."""
    lines = [README_BEGIN, "| row | `make size` | goal (issue 16) |", "| --- | ---: | ---: |"]
    for entry in budget["rows"].values():
        goal = ""
        if "goal_bytes" in entry:
            verdict = "met" if entry["bytes"] <= entry["goal_bytes"] else "missed"
            goal = f"{entry['goal']}: {verdict}"
        lines.append(f"| {entry['readme']} | {entry['bytes']:,} B | {goal} |")
    lines.append(README_END)
    return "\n".join(lines)


def sync_readme(readme_path, budget_path, write):
    """Writes (or checks) the README's size table against size_budget.json; False if stale."""
    with open(budget_path, encoding="utf-8") as f:
        budget = json.load(f)
    with open(readme_path, encoding="utf-8") as f:
        text = f.read()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        print(f"size-check: {readme_path} has no {README_BEGIN} block", file=sys.stderr)
        return False
    fresh = text[:start] + readme_table(budget) + text[end + len(README_END):]
    if fresh == text:
        return True
    if write:
        with open(readme_path, "w", encoding="utf-8") as f:
            f.write(fresh)
        return True
    print(f"size-check: the size table in {readme_path} differs from {budget_path}: "
          "run `make size-check SIZE_RECORD=1`", file=sys.stderr)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--map", action="append", required=True, metavar="NAME=FILE")
    parser.add_argument("--run", action="append", required=True, metavar="[NAME=]FILE",
                        help="semihosting output of an image (no NAME: the full image)")
    parser.add_argument("--top", type=int, default=0, help="also list the N biggest symbols")
    parser.add_argument("--budget", help="size_budget.json: print the rows beside it")
    parser.add_argument("--check", action="store_true", help="fail when a row grew (--budget)")
    parser.add_argument("--readme", help="README.md whose size table --record writes and "
                        "--check compares with --budget")
    parser.add_argument("--record", action="store_true",
                        help="write the measured figures into --budget (a deliberate change)")
    args = parser.parse_args()

    runs = {}
    for item in args.run:
        name, path = item.split("=", 1) if "=" in item else ("full", item)
        runs[name] = read_run(path)
    sizeof, stacks = runs.get("full") or next(iter(runs.values()))

    print("Library cost in the Cortex-M4 image (thumbv7em-none-eabihf, arm-none-eabi-gcc "
          "--gc-sections), from the linker map:\n")
    print("| image | flash (text+rodata+data) | RAM (data+bss) | sizeof(mqe_client_t) | goal |")
    print("| --- | --- | --- | --- | --- |")
    maps = [item.split("=", 1) for item in args.map]
    for name, path in maps:
        sums, flash, ram = totals(path)
        goal = GOALS.get(name)
        verdict = "" if goal is None else (
            f"<= {goal / 1024:.1f} KB: {'met' if flash <= goal else 'missed'}")
        size = runs[name][0] if name in runs else (
            runs["lite-minimal"][0] if name.startswith("lite") and "lite-minimal" in runs
            else sizeof)
        print(f"| ({name}) text {sums['text']} + rodata {sums['rodata']} + data {sums['data']} "
              f"| {kb(flash)} | {ram} B | {size} B | {verdict} |")

    print(f"\nPeak stack per public call (painted stack, full image; includes the image's light "
          f"transport and handlers):\n")
    print("| call | peak stack | calls measured | goal <= 1 KB |")
    print("| --- | --- | --- | --- |")
    for name, peak, calls in sorted(stacks, key=lambda s: -s[1]):
        print(f"| {name} | {peak} B | {calls} | {'met' if peak <= STACK_GOAL else 'missed'} |")

    for name, (_, image_stacks) in runs.items():
        if name != "full":
            worst = max(image_stacks, key=lambda s: s[1])
            print(f"\nPeak stack of the ({name}) image: {worst[1]} B ({worst[0]})")

    ok = True
    if args.budget and args.record:
        record_budget(args.budget, budget_rows(dict(maps), runs))
    if args.budget:
        ok = check_budget(args.budget, budget_rows(dict(maps), runs), args.check)
    if args.budget and args.readme and (args.check or args.record):
        ok = sync_readme(args.readme, args.budget, args.record) and ok

    if args.top:
        name, path = maps[-1]
        sections = sorted(library_sections(path), key=lambda s: -s[2])
        names = demangle([symbol_of(s[1]) for s in sections])
        by_crate = defaultdict(int)
        by_module = defaultdict(int)
        for (kind, section, size), sym in zip(sections, names):
            if kind != "bss":
                crate = crate_of(section, sym)
                by_crate[crate] += size
                if crate == "mqtt_engine":
                    by_module[module_of(sym)] += size
        print(f"\nFlash of ({name}) by crate: " + ", ".join(
            f"{crate} {size} B" for crate, size in sorted(by_crate.items(), key=lambda i: -i[1])))
        print(f"mqtt_engine by layer: " + ", ".join(
            f"{module} {size} B" for module, size in sorted(by_module.items(), key=lambda i: -i[1])))
        print(f"\nBiggest library symbols in ({name}):\n")
        for (kind, _, size), sym in list(zip(sections, names))[: args.top]:
            print(f"  {size:6d} {kind:6s} {sym}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
