#!/usr/bin/env python3
"""The flash each optional cargo feature costs on the Cortex-M4 image (docs/CELLULAR.md,
docs/CLOUDS.md).

Builds the library for thumbv7em-none-eabihf with no optional feature, with each one alone,
and with the cellular three, the four signers and the cloud six together, each in its own
target dir; links tests/cortex_m/app_full.c against each (as `make size` does; its
cloud_calls() and cell_calls() stubbed), once as it is (the feature's functions unused: only its
hooks inside the client remain) and once with the feature's functions kept (`-u`, as a firmware
that calls them); and prints the library's flash (text + rodata + data, from the linker map).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "cortex_m"))
import footprint  # noqa: E402

TARGET = "thumbv7em-none-eabihf"
FUNCTIONS = {
    "link": ["mqe_link_up", "mqe_link_down"],
    "stats": ["mqe_stats"],
    "pending": ["mqe_pending"],
    "cloud-profiles": ["mqe_options_for_cloud"],
    "credentials-cb": ["mqe_set_credentials_handler"],
    "sign-aliyun": ["mqe_aliyun_sign"],
    "sign-azure": ["mqe_azure_username", "mqe_azure_sas_token"],
    "sign-tencent": ["mqe_tencent_sign"],
    "sign-onenet": ["mqe_onenet_token"],
}
SIGNERS = ["sign-aliyun", "sign-azure", "sign-tencent", "sign-onenet"]
CLOUD = ["cloud-profiles", "credentials-cb"] + SIGNERS
VARIANTS = ([("none", []), ("link", ["link"]), ("stats", ["stats"]), ("pending", ["pending"]),
             ("link+stats+pending", ["link", "stats", "pending"])]
            + [(feature, [feature]) for feature in CLOUD]
            + [("all-signers", SIGNERS), ("cloud", CLOUD)])
CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-g",
          "-std=gnu11", "-ffunction-sections", "-fdata-sections", "-Iinclude",
          "-Itests/cortex_m"]
M4 = "tests/cortex_m"
SOURCES = [f"{M4}/{f}" for f in ("app_full.c", "broker.c", "stack_meter.c", "startup.c",
                                 "semihost.c", "board.c")]
AEABI = ["__aeabi_memcpy", "__aeabi_memcpy4", "__aeabi_memcpy8", "__aeabi_memmove",
         "__aeabi_memmove4", "__aeabi_memmove8", "__aeabi_memset", "__aeabi_memset4",
         "__aeabi_memset8", "__aeabi_memclr", "__aeabi_memclr4", "__aeabi_memclr8", "memcmp"]
LDFLAGS = ["--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles", "-T",
           f"{M4}/mps2_an386.ld", "-Wl,--gc-sections", "-Wl,--no-warn-execstack"]


def library_flash(map_path):
    return footprint.totals(map_path)[1]


def build(name, features):
    target_dir = os.path.join("target", "feature-size", name)
    cmd = ["cargo", "build", "--release", "--target", TARGET, "--no-default-features",
           "--target-dir", target_dir]
    if features:
        cmd += ["--features", ",".join(features)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return os.path.join(target_dir, TARGET, "release", "libmqtt_engine.a")


def link(lib, out, keep):
    os.makedirs(os.path.join(ROOT, os.path.dirname(out)), exist_ok=True)
    # Each feature's calls are kept by `-u` alone: app_full.c's cloud_calls() and cell_calls()
    # are stubbed (they call what a variant may not have built).
    stub = os.path.join(os.path.dirname(out), "calls_stub.c")
    with open(os.path.join(ROOT, stub), "w") as f:
        f.write("void cloud_calls(void);\nvoid cell_calls(void);\n"
                "void cloud_calls(void) {}\nvoid cell_calls(void) {}\n")
    cmd = (["arm-none-eabi-gcc"] + CFLAGS + LDFLAGS + [f"-Wl,-Map={out}.map"] + SOURCES + [stub]
           + [f"-Wl,-u,{s}" for s in AEABI + keep] + ["-lc", lib, "-o", out])
    subprocess.run(cmd, check=True, cwd=ROOT)
    return library_flash(os.path.join(ROOT, out + ".map"))


def main():
    rows = []
    for name, features in VARIANTS:
        lib = build(name, features)
        keep = [f for feature in features for f in FUNCTIONS[feature]]
        unused = link(lib, f"build/feature-size/{name}.elf", [])
        used = link(lib, f"build/feature-size/{name}-used.elf", keep)
        rows.append((name, unused, used))
    base = rows[0][1]
    print("| features | library flash, app_full.c | + vs none | with the feature's calls "
          "| + vs none |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, unused, used in rows:
        print(f"| {name} | {unused:,} B | {unused - base:+,} B | {used:,} B | {used - base:+,} B |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
