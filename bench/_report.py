"""One line per figure that ``bench/run_all`` collects: every benchmark calls ``figure`` for
each target it checks, beside the human-readable lines it prints anyway.

A figure is what the project measured, the baseline measured in the same run (when the
target is relative to one), the ratio between them, the target in words and whether it is
met. The line is ``FIGURE {json}`` so a summary can be made from any script's output.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass

PREFIX = "FIGURE "


@dataclass(frozen=True)
class Figure:
    bench: str  # "B1", "B2", …
    name: str  # what was measured, e.g. "1,000 orgs requests/s"
    measured: float
    unit: str
    target: str  # e.g. "≥ 50 % of the floor"
    met: bool
    baseline: float | None = None
    ratio: float | None = None  # measured against the baseline, as the target reads it


def figure(
    bench: str,
    name: str,
    measured: float,
    unit: str,
    target: str,
    met: bool,
    *,
    baseline: float | None = None,
    ratio: float | None = None,
) -> bool:
    """Print the figure's line (flushed, so a parent process reads it at once); ``met``."""
    line = Figure(bench, name, measured, unit, target, bool(met), baseline, ratio)
    print(PREFIX + json.dumps(asdict(line), ensure_ascii=False), flush=True)
    sys.stdout.flush()
    return bool(met)


def parse(text: str) -> list[Figure]:
    """The figures among a script's output lines."""
    return [
        Figure(**json.loads(line[len(PREFIX) :]))
        for line in text.splitlines()
        if line.startswith(PREFIX)
    ]
