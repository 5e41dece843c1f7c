#!/usr/bin/env python3
"""Checks the relative links of the documentation: README.md, PORTING.md and docs/*.md.

Every [text](target) that is not a URL must name an existing file (relative to the linking
file), and a #fragment must match a heading of the target as GitHub renders its anchor.
Links inside fenced code blocks are skipped. Exits 1 and lists every broken link.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def lines_outside_fences(text):
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found = set()
    for _, line in lines_outside_fences(path.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = anchor(match.group(1))
            name, n = base, 0
            while name in found:  # repeated headings get -1, -2, ...
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def main():
    files = [ROOT / "README.md", ROOT / "PORTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken, checked = [], 0
    for doc in files:
        if not doc.exists():
            broken.append(f"{doc.relative_to(ROOT)}: missing")
            continue
        for number, line in lines_outside_fences(doc.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                checked += 1
                path_part, _, fragment = target.partition("#")
                dest = (doc.parent / path_part).resolve() if path_part else doc
                where = f"{doc.relative_to(ROOT)}:{number}: {target}"
                if not dest.exists():
                    broken.append(f"{where}: no such file")
                elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                    broken.append(f"{where}: no heading with that anchor")
    for line in broken:
        print(f"check_links: {line}", file=sys.stderr)
    print(f"check_links: {checked} relative links in {len(files)} files, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
