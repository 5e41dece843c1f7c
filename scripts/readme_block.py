#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Prints the README's build block: the first ```sh block after the line <!-- build-block -->.

    scripts/readme_block.py [README.md]

`make quickstart` runs exactly these lines (build the library, compile, run), so the block a
reader pastes is the block that is tested. Fails when the marker or the block is missing,
unclosed, or when the block is not exactly three non-empty lines.
"""
import os
import sys

MARKER = "<!-- build-block -->"
LINES = 3


def extract(text):
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == MARKER)
    except StopIteration:
        raise ValueError(f"no line {MARKER}")
    try:
        fence = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```sh")
    except StopIteration:
        raise ValueError(f"no ```sh block after {MARKER}")
    try:
        end = next(i for i in range(fence + 1, len(lines)) if lines[i].strip() == "```")
    except StopIteration:
        raise ValueError(f"the ```sh block after {MARKER} is not closed")
    block = [line for line in lines[fence + 1:end] if line.strip()]
    if len(block) != LINES:
        raise ValueError(f"the build block has {len(block)} non-empty lines, not {LINES}")
    return block


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        block = extract(text)
    except ValueError as e:
        print(f"readme_block: {path}: {e}", file=sys.stderr)
        sys.exit(1)
    print("\n".join(block))


if __name__ == "__main__":
    main()
