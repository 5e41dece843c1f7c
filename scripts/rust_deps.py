#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Adds the Rust targets and components that rust-toolchain.toml names and the toolchain lacks.

    scripts/rust_deps.py                      everything rust-toolchain.toml names
    scripts/rust_deps.py --targets T [T ...]  only these targets (each must be in the toml)
    scripts/rust_deps.py --components C ...   only these components (each must be in the toml)
    scripts/rust_deps.py --if-declared --targets T   T if the toml names it, else nothing
                                              (`make lib TARGET=<any triple>`)

rustup installs the pinned toolchain with the host target only, and with RUSTUP_AUTO_INSTALL=0
it adds nothing by itself: `cargo build --target thumbv6m-none-eabi` then fails with "can't
find crate for `core`" minutes into `make test`. The make targets call this first, each with
what it needs. It asks `rustup ... list --installed` for the pinned channel and runs
`rustup target add` / `rustup component add` for what is missing. When rustup is absent or the
add fails, it stops at once and prints the exact command to run. The lists come from
rust-toolchain.toml only, so they cannot drift: naming anything else is an error.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADD_TIMEOUT_S = 900  # a slow link downloads ~30 MB per target
LIST_TIMEOUT_S = 60
# Without rustup: the command that shows a component is there.
COMPONENT_PROBES = {"clippy": ["cargo", "clippy", "--version"], "rustfmt": ["rustfmt", "--version"]}


def say(msg):
    print(f"rust-deps: {msg}", file=sys.stderr)


def fail(msg, command):
    say(msg)
    say("run this, then try again:")
    print(f"  {command}", file=sys.stderr)
    sys.exit(1)


def load_toolchain(path):
    with open(path, "rb") as f:
        toolchain = tomllib.load(f).get("toolchain", {})
    channel = toolchain.get("channel")
    if not channel:
        say(f"{path} names no toolchain channel")
        sys.exit(2)
    return channel, list(toolchain.get("targets", [])), list(toolchain.get("components", []))


def pick(requested, declared, kind, toml):
    """The requested names (comma- or space-separated), all of which must be declared."""
    names = [n for item in requested for n in item.replace(",", " ").split()]
    unknown = [n for n in names if n not in declared]
    if unknown:
        say(f"{kind} {' '.join(unknown)} not in {toml} ({kind}: {' '.join(declared)}); "
            "add it there, not here")
        sys.exit(2)
    return names


def rustup_list(channel, what):
    cmd = ["rustup", what, "list", "--installed", "--toolchain", channel]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=LIST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"`{' '.join(cmd)}` timed out"
    if out.returncode != 0:
        return None, (out.stderr.strip().splitlines() or ["(no message)"])[0]
    return out.stdout.split(), ""


def rustup_add(channel, what, names):
    cmd = ["rustup", what, "add", "--toolchain", channel, *names]
    text = " ".join(cmd)
    say(f"adding: {text}")
    try:
        status = subprocess.run(cmd, timeout=ADD_TIMEOUT_S).returncode
    except subprocess.TimeoutExpired:
        status = "timeout"
    if status != 0:
        fail(f"`{text}` failed ({status})", text)


def install_command(channel, targets, components):
    return (f"rustup toolchain install {channel} --profile minimal"
            + (f" --target {','.join(targets)}" if targets else "")
            + (f" --component {','.join(components)}" if components else ""))


def without_rustup(channel, targets, components):
    """No rustup: fine only if the rustc on PATH already has everything."""
    hint = install_command(channel, targets, components)
    try:
        sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True,
                                 timeout=LIST_TIMEOUT_S).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        sysroot = ""
    missing = [t for t in targets
               if not sysroot or not os.path.isdir(os.path.join(sysroot, "lib", "rustlib", t, "lib"))]
    for c in components:
        probe = COMPONENT_PROBES.get(c)
        try:
            ok = probe is not None and subprocess.run(
                probe, capture_output=True, timeout=LIST_TIMEOUT_S).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            missing.append(c)
    if missing:
        fail(f"rustup is not on PATH and the toolchain lacks {' '.join(missing)}", hint)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", nargs="*", help="only these targets of the toml")
    ap.add_argument("--components", nargs="*", help="only these components of the toml")
    ap.add_argument("--if-declared", action="store_true",
                    help="skip requested targets the toml does not name (the user adds those)")
    ap.add_argument("--toml", default=os.path.join(ROOT, "rust-toolchain.toml"))
    args = ap.parse_args()

    channel, all_targets, all_components = load_toolchain(args.toml)
    toml = os.path.relpath(args.toml, ROOT)
    if args.targets is None and args.components is None:
        targets, components = all_targets, all_components
    else:
        requested = args.targets or []
        if args.if_declared:
            requested = [t for item in requested for t in item.replace(",", " ").split()
                         if t in all_targets]
        targets = pick(requested, all_targets, "targets", toml)
        components = pick(args.components or [], all_components, "components", toml)

    if shutil.which("rustup") is None:
        without_rustup(channel, targets, components)
        return
    installed_components, err = rustup_list(channel, "component")
    if installed_components is None:
        fail(f"cannot list the components of toolchain {channel}: {err}",
             install_command(channel, targets, components))
    installed_targets, err = rustup_list(channel, "target")
    if installed_targets is None:
        fail(f"cannot list the targets of toolchain {channel}: {err}",
             install_command(channel, targets, components))
    # Components are listed with the host's triple ("clippy-x86_64-unknown-linux-gnu").
    host = next((c[len("rustc-"):] for c in installed_components if c.startswith("rustc-")), "")
    have = set(installed_components) | {c[: -len(host) - 1] for c in installed_components
                                        if host and c.endswith("-" + host)}
    missing_components = [c for c in components if c not in have]
    missing_targets = [t for t in targets if t not in installed_targets]
    if missing_components:
        rustup_add(channel, "component", missing_components)
    if missing_targets:
        rustup_add(channel, "target", missing_targets)
    if missing_components or missing_targets:
        say(f"toolchain {channel}: added {' '.join(missing_components + missing_targets)}")


if __name__ == "__main__":
    main()
