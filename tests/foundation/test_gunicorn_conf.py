"""gunicorn started from the repository's root (the README's command line) reads
gunicorn.conf.py: each worker, once the app is loaded, puts what it made out of the cyclic
collector's reach, so a full collection no longer walks the whole app in some request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def test_gunicorn_started_from_the_repository_reads_its_settings():
    printed = subprocess.run(
        [str(GUNICORN), "--print-config", "app:create_app()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settings = {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in printed.splitlines())
    }
    assert settings["config"] == "./gunicorn.conf.py"
    # Ours, not gunicorn's default (shown as <PostWorkerInit.post_worker_init()>).
    assert settings["post_worker_init"] == "<post_worker_init()>"


def test_a_worker_freezes_what_the_loaded_app_made():
    script = (
        "import gc, runpy\n"
        "from app import create_app\n"
        "create_app()\n"
        "before = gc.get_freeze_count()\n"
        "runpy.run_path('gunicorn.conf.py')['post_worker_init'](None)\n"
        "print(before, gc.get_freeze_count(), gc.isenabled())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    before, frozen, enabled = int(out[0]), int(out[1]), out[2]
    assert before == 0 and frozen > 50_000 and enabled == "True"
