"""Run the benchmarks and write their logs into benchmarks/ (what `make benchmarks` calls).

    python benchmarks/run.py [--quick] [--against REV]

--quick runs the short versions (seconds to a few minutes); --against REV also times every
chapter of git revision REV side by side with the working tree (see time_chapters.py).
Each script's Markdown output goes to benchmarks/<name>.log; a machine description heads it.
"""
import argparse
import datetime
import os
import pathlib
import platform
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def header() -> str:
    import jax  # noqa: WPS433 - only for the description
    dev = jax.devices()[0]
    return (f"<!-- {datetime.datetime.now().isoformat(timespec='minutes')}, {platform.node()}, "
            f"{os.cpu_count()} CPUs, {dev.platform} ({dev.device_kind}), jax {jax.__version__} -->\n")


def run(name: str, *args: str):
    print(f"== {name} {' '.join(args)}", flush=True)
    out = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise SystemExit(f"{name} failed")
    (HERE / f"{name}.log").write_text(header() + out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--against", help="a git revision to time side by side with the working tree")
    args = parser.parse_args()
    import mesalib  # noqa: F401  (sets the CPU flag before jax starts)
    run("gittins", *(["--pulls", "100", "300", "--bisection-max", "100"] if args.quick else []))
    run("bench_rl2", *(["--quick"] if args.quick else []))
    run("time_chapters", *(["--against", args.against] if args.against else []))


if __name__ == "__main__":
    main()
