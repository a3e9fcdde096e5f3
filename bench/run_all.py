"""Every benchmark of bench/, one after the other, and one table of their figures: each beside
its baseline from the same run, the ratio and the target; exits 1 when a figure misses its
target, a benchmark fails or a benchmark reports no figure.

    bench/run_all                      # everything (≈ 50 minutes; B7's soak is 30 of them)
    bench/run_all --quick              # B7's soak for 5 minutes instead of 30
    bench/run_all --only B1 --only B6  # some of them

Each benchmark's whole output is kept in bench/results/<bench>.log (not committed). Run it on
a quiet machine: the figures in bench/README.md were taken with the load average under 0.5.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import Figure, parse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# (bench, script, arguments, arguments with --quick)
BENCHES: list[tuple[str, str, list[str], list[str]]] = [
    ("B1", "b1_usage.py", [], []),
    ("B2", "b2_list.py", [], []),
    ("B3", "b3_csv.py", [], []),
    ("B4", "b4_invoices.py", [], []),
    ("B5 contacts", "b5_contacts_import.py", [], []),
    ("B5 campaign", "b5_campaign.py", [], []),
    ("B6", "b6_batch.py", [], []),
    ("B7 memory", "b7_worker_memory.py", [], ["--receipts", "300"]),
    ("B7 soak", "b7_soak.py", [], ["--minutes", "5", "--window", "1"]),
]


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _ratio(figure: Figure) -> str:
    if figure.ratio is None:
        return "—"
    return f"{figure.ratio:.2f}x" if figure.ratio >= 1.5 else f"{figure.ratio:.1%}"


def table(rows: list[Figure]) -> str:
    header = ("bench", "figure", "measured", "baseline", "ratio", "target", "")
    lines = [
        (
            f.bench,
            f.name,
            _number(f.measured, f.unit),
            _number(f.baseline, f.unit),
            _ratio(f),
            f.target,
            "met" if f.met else "MISSED",
        )
        for f in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    out = []
    for cells in (header, *lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(out)


def _names(bench: str) -> set[str]:
    """What --only calls a bench: its whole name ('B5 campaign') or its family (B5)."""
    return {bench, bench.split()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", default=[], help="a bench, e.g. B1, B5 or 'B5 campaign'"
    )
    parser.add_argument("--quick", action="store_true", help="a 5-minute B7 soak")
    args = parser.parse_args()
    names = {name for bench, *_ in BENCHES for name in _names(bench)}
    unknown = [name for name in args.only if name not in names]
    if unknown:
        parser.error(f"no bench {', '.join(unknown)}; choose from {', '.join(sorted(names))}")
    chosen = [b for b in BENCHES if not args.only or _names(b[0]) & set(args.only)]
    RESULTS.mkdir(exist_ok=True)
    load = os.getloadavg()
    print(f"bench/run_all: {len(chosen)} benchmarks, {os.cpu_count()} cores, load {load[0]:.2f}")
    figures: list[Figure] = []
    problems: list[str] = []
    for bench, script, normal, quick in chosen:
        command = [sys.executable, str(ROOT / "bench" / script), *(quick if args.quick else normal)]
        log = RESULTS / f"{bench.replace(' ', '_')}.log"
        started = time.monotonic()
        print(f"\n== {bench}: {' '.join(command[1:])} (output in {log})")
        with (
            log.open("w") as out,
            subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ) as process,
        ):
            assert process.stdout is not None
            text = []
            for line in process.stdout:
                out.write(line)
                text.append(line)
                if not line.startswith("FIGURE "):
                    print("   ", line, end="")
            code = process.wait()
        found = parse("".join(text))
        figures += found
        seconds = time.monotonic() - started
        print(f"== {bench}: exit {code}, {len(found)} figures, {seconds:.0f} s")
        if not found:
            problems.append(f"{bench} reported no figure (exit {code})")
        elif code != 0 and all(f.met for f in found):
            problems.append(f"{bench} exited {code} with every figure met")
    print("\n" + table(figures))
    missed = [f for f in figures if not f.met]
    for problem in problems:
        print(f"PROBLEM: {problem}")
    summary = f"\n{len(figures) - len(missed)} of {len(figures)} figures met"
    if missed:
        summary += "; missed: " + ", ".join(f"{f.bench} {f.name}" for f in missed)
    print(summary)
    return 1 if missed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
