"""bench/run_all: one table of every benchmark's figures, exit 1 when one misses its target,
a benchmark fails or one reports no figure."""

from __future__ import annotations

import sys
import textwrap

import pytest

from bench import run_all

SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from bench._report import figure
met = figure("BX", "rate", 900.0, "req/s", "≥ 50 % of the floor", {met}, baseline=1000.0, ratio=0.9)
sys.exit({code})
"""


def fake_bench(tmp_path, name: str, *, met: bool = True, code: int = 0, silent: bool = False):
    path = tmp_path / f"{name}.py"
    body = (
        "import sys; sys.exit(0)"
        if silent
        else SCRIPT.format(root=str(run_all.ROOT), met=met, code=code)
    )
    path.write_text(textwrap.dedent(body))
    return (name, str(path), [], [])


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_all, "RESULTS", tmp_path / "results")

    def go(*benches) -> tuple[int, str]:
        monkeypatch.setattr(run_all, "BENCHES", list(benches))
        monkeypatch.setattr(sys, "argv", ["run_all"])
        code = run_all.main()
        return code, capsys.readouterr().out

    return go


def test_every_figure_in_one_table_beside_its_baseline_and_ratio(run, tmp_path):
    code, out = run(fake_bench(tmp_path, "one"), fake_bench(tmp_path, "two"))
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("BX ")]
    assert len(rows) == 2
    assert all("900 req/s" in r and "1,000 req/s" in r and "90.0%" in r for r in rows)
    assert "2 of 2 figures met" in out


def test_a_missed_target_fails_the_run_and_is_named(run, tmp_path):
    code, out = run(fake_bench(tmp_path, "one"), fake_bench(tmp_path, "two", met=False, code=1))
    assert code == 1
    assert "MISSED" in out and "missed: BX rate" in out


def test_a_benchmark_with_no_figure_or_a_failing_exit_fails_the_run(run, tmp_path):
    assert run(fake_bench(tmp_path, "silent", silent=True))[0] == 1
    code, out = run(fake_bench(tmp_path, "crashed", code=2))
    assert code == 1 and "exited 2 with every figure met" in out


def test_only_takes_a_bench_or_its_family_and_refuses_an_unknown_name(
    tmp_path, monkeypatch, capsys
):
    """``--only 'B5 campaign'`` runs that one, ``--only B5`` every B5; a name no bench has
    stops at once (exit 2) instead of running nothing and reporting "0 of 0 met"."""
    monkeypatch.setattr(run_all, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(
        run_all,
        "BENCHES",
        [fake_bench(tmp_path, "B5 contacts"), fake_bench(tmp_path, "B5 campaign")],
    )
    for only, ran in ((["B5 campaign"], 1), (["B5"], 2)):
        monkeypatch.setattr(sys, "argv", ["run_all", *(a for o in only for a in ("--only", o))])
        assert run_all.main() == 0
        assert f"bench/run_all: {ran} benchmarks," in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["run_all", "--only", "B9"])
    with pytest.raises(SystemExit) as stopped:
        run_all.main()
    assert stopped.value.code == 2 and "no bench B9" in capsys.readouterr().err
