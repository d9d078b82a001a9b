#!/usr/bin/env python3
"""Start-up cost of the CLI as whole processes: wall time and peak resident
memory of `polar-express --help` and of a one-step degree-5 design, each run
--runs times; medians (time) and maxima (memory) reported, with `true` as the
floor of starting any process on the machine, in the same run.

    bench/cli/startup.py [--cli build/bin/polar-express] [--runs 50]

Peak memory is GNU time's %M (the process's own maximum resident set; the
rusage a Python parent gets back also counts the forked interpreter), from
one more run of each command under /usr/bin/time.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "true (process floor)": [shutil.which("true") or "/bin/true"],
    "--help": ["{cli}", "--help"],
    "design, 1 step of degree 5": ["{cli}", "design", "--degree", "5", "--lower", "1e-3", "--steps", "1"],
    "verify --builtin polar-express-nanochat-d5": ["{cli}", "verify", "--builtin", "polar-express-nanochat-d5"],
}


def median_ms(argv, runs):
    """Median wall milliseconds over `runs` processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1e3)
        if code != 0:
            sys.exit(f"startup.py: {' '.join(argv)} exited {code}")
    return statistics.median(times)


def peak_mib(argv):
    """The peak resident set of one run, in MiB, as GNU time reports it."""
    with tempfile.NamedTemporaryFile("r") as report:
        subprocess.check_call(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return int(report.read().split()[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="build/bin/polar-express")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if not os.access(args.cli, os.X_OK):
        sys.exit(f"startup.py: no executable at '{args.cli}' (build it, or pass --cli)")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("startup.py: needs GNU time at /usr/bin/time (apt-get install time)")
    if args.runs < 1:
        sys.exit("startup.py: --runs must be at least 1")
    print("| command | median ms | peak RSS MiB |\n|---|---:|---:|")
    for name, template in COMMANDS.items():
        argv = [part.replace("{cli}", args.cli) for part in template]
        ms, mib = median_ms(argv, args.runs), peak_mib(argv)
        print(f"| `{name}` | {ms:.1f} | {mib:.1f} |")


if __name__ == "__main__":
    main()
