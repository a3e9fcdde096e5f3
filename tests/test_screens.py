"""scripts/screens.py, the generator of docs/screens/: its page list covers every role with a
login the demo really has, and the committed set is the one it makes. (The browser journeys
of tests/browser/ drive Chromium; running the generator itself is its own command.)"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from tenants.demo import build_demo
from tenants.jobs.outbox import commit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def screens():
    spec = importlib.util.spec_from_file_location("screens", ROOT / "scripts" / "screens.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["screens"] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("screens", None)


def test_every_role_has_pages(screens):
    shown = {screens.LOGINS[shot.login].role for shot in screens.SHOTS}
    assert set(screens.ROLES) == shown
    assert set(screens.ROLES) >= {login.role for login in screens.LOGINS.values()}


def test_the_page_list_is_well_formed(screens):
    names = [shot.name for shot in screens.SHOTS]
    assert len(names) == len(set(names))
    for shot in screens.SHOTS:
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", shot.name), shot.name
        assert shot.login in screens.LOGINS
        assert shot.path.startswith("/")
        assert set(re.findall(r"\{(\w+)\}", shot.path)) <= {*screens.ORGANIZATIONS, "reseller"}
    assert set(screens.LANGUAGES) == {"en", "es"}
    assert screens.WIDTHS["desktop"]["viewport"] == {"width": 1280, "height": 800}
    assert screens.WIDTHS["phone"]["viewport"] == {"width": 375, "height": 812}


def test_the_logins_and_records_are_the_demos(app, screens):
    logins = build_demo(screens.PASSWORD)
    commit()
    emails = {email for _role, email in logins}
    assert {login.email for login in screens.LOGINS.values()} <= emails
    ids = screens._demo_ids()
    assert set(ids) == {*screens.ORGANIZATIONS, "reseller"}


def test_the_committed_set_is_what_the_generator_makes(screens):
    expected = {
        screens.file_name(shot, language, width)
        for shot in screens.SHOTS
        for language in screens.LANGUAGES
        for width in screens.WIDTHS
    }
    committed = {path.name for path in screens.SCREENS.glob("*.png")}
    assert committed == expected, "run `.venv/bin/python scripts/screens.py` and commit"
    index = (screens.SCREENS / "README.md").read_text(encoding="utf-8")
    assert all(f"]({name})" in index for name in expected)
    total = sum(path.stat().st_size for path in screens.SCREENS.glob("*.png"))
    assert total <= screens.MAX_TOTAL_BYTES
