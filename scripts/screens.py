"""The screenshot set of docs/screens/: the main journeys of every role, in English and
Spanish, at desktop and phone width. One command, nothing to set up but the test extras
(Playwright) and Debian's Chromium:

    .venv/bin/python scripts/screens.py                  # every page (about two minutes)
    .venv/bin/python scripts/screens.py --only organization-credits --only member-credits

It fills a throw-away SQLite database with the demo platform (tenants.demo, as `flask demo`
does), serves the portal with werkzeug in a thread on a free loopback port, logs in as the
demo login each page needs with Playwright driving /usr/bin/chromium (CHROMIUM_PATH; never
`playwright install`) and saves ``<page>.<language>.<width>.png`` (the visible window, not
the whole page) into docs/screens/, then writes docs/screens/README.md listing them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCREENS = ROOT / "docs" / "screens"
PASSWORD = "demo password for screenshots"  # noqa: S105  (a throw-away demo database)
LANGUAGES = {"en": "English", "es": "Spanish"}
WIDTHS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True},
}
BROWSER_LOCALES = {"en": "en-US", "es": "es-ES"}
# The navbar's language menu reads "<this>: <language>" once the catalogs are compiled.
LANGUAGE_WORDS = {"en": "Language", "es": "Idioma"}
MAX_TOTAL_BYTES = 15 * 1024 * 1024
TIMEOUT_MS = 15_000

# The roles of SPEC §1; every one has at least one page below.
ROLES = {
    "platform-admin": "Platform admin",
    "support-agent": "Support agent (platform staff)",
    "reseller-admin": "Reseller admin",
    "reseller-agent": "Reseller agent",
    "organization-owner": "Organization owner",
    "organization-admin": "Organization admin",
    "organization-member": "Organization member",
}


@dataclass(frozen=True)
class Login:
    role: str  # a key of ROLES
    email: str  # a login `flask demo` prints


LOGINS = {
    "platform-admin": Login("platform-admin", "admin@demo.example"),
    "support-agent": Login("support-agent", "support@demo.example"),
    "reseller-admin": Login("reseller-admin", "reseller-admin@demo.example"),
    "reseller-agent": Login("reseller-agent", "reseller-agent@demo.example"),
    "prepaid-owner": Login("organization-owner", "lucia@acme-iberica.example"),
    "postpaid-owner": Login("organization-owner", "javier@panaderiasol.example"),
    "prepaid-admin": Login("organization-admin", "admin@acme-iberica.example"),
    "prepaid-member": Login("organization-member", "member@acme-iberica.example"),
}

# The demo's records the pages open, by name (tenants.demo).
ORGANIZATIONS = {
    "acme": "Acme Ibérica SL",  # prepaid, individual user credits
    "sol": "Panadería Sol",  # postpaid, last month's invoice paid
    "norte": "Logística Norte MX",  # postpaid, last month's invoice open
}
RESELLER = "Demo Telecom"


@dataclass(frozen=True)
class Shot:
    name: str  # the file name's stem
    login: str  # a key of LOGINS
    title: str  # what docs/screens/README.md calls it
    path: str  # formatted with the ids: {acme}, {sol}, {norte}, {reseller}
    act: Callable[[Any], None] | None = None  # what to do on the page before the picture
    focus: str | None = None  # a selector scrolled into view before the picture


def _buy_1000_credits(page: Any) -> None:
    """The purchase form → its confirmation: quantity, tax, total and billing details."""
    page.locator("#credits").fill("1000")
    page.locator("#credits").press("Enter")
    page.wait_for_selector("[data-table=quote]")


def _start_view_only_session(page: Any) -> None:
    """Log in as the owner (the default member), view only, with a reason."""
    page.locator("#reason").fill("Ticket 4711: the customer asks about their balance")
    page.locator("#reason").press("Enter")
    page.wait_for_selector("#support-banner")


ACME, SOL, NORTE = "/organizations/{acme}", "/organizations/{sol}", "/organizations/{norte}"
SHOTS = (
    Shot("platform-overview", "platform-admin", "Platform overview", "/platform/"),
    Shot(
        "platform-reseller",
        "platform-admin",
        "A reseller, its staff",
        "/platform/resellers/{reseller}",
    ),
    Shot(
        "support-login-as",
        "support-agent",
        "Log in as a member",
        f"{ACME}/",
        focus="[data-section=login-as]",
    ),
    Shot(
        "support-session",
        "support-agent",
        "A view-only support session",
        f"{ACME}/",
        act=_start_view_only_session,
    ),
    Shot("reseller-customer-list", "reseller-admin", "Customer app", "/customers/"),
    Shot("reseller-create-organization", "reseller-admin", "Create organization", "/customers/new"),
    Shot("reseller-members", "reseller-agent", "An organization's members", f"{ACME}/members/"),
    Shot("reseller-postpaid-payment", "reseller-admin", "Postpaid: Payment", f"{SOL}/payment"),
    Shot(
        "reseller-delete-organization", "reseller-admin", "Delete: the close-out", f"{NORTE}/delete"
    ),
    Shot("reseller-price-list", "reseller-admin", "Price list", "/reseller/settings/prices"),
    Shot(
        "reseller-support-sessions", "reseller-admin", "Support sessions log", "/reseller/support/"
    ),
    Shot("organization-overview", "prepaid-owner", "Organization overview", f"{ACME}/"),
    Shot("organization-credits", "prepaid-owner", "Manage SMS Credits", f"{ACME}/credits/"),
    Shot(
        "organization-purchase",
        "prepaid-owner",
        "Purchase: confirm",
        f"{ACME}/credits/purchase",
        act=_buy_1000_credits,
    ),
    Shot("organization-settings", "prepaid-admin", "Settings", f"{ACME}/settings"),
    Shot(
        "organization-balance",
        "prepaid-owner",
        "Balance & configuration",
        f"{ACME}/credits/balance",
    ),
    Shot(
        "organization-auto-top-up",
        "prepaid-admin",
        "Settings: automatic top-up",
        f"{ACME}/settings#auto_top_up",
    ),
    Shot("organization-invoices", "postpaid-owner", "Postpaid: Invoices", f"{SOL}/invoices"),
    Shot("member-credits", "prepaid-member", "A member's own credits", f"{ACME}/credits/"),
)


def file_name(shot: Shot, language: str, width: str) -> str:
    return f"{shot.name}.{language}.{width}.png"


# -- the portal ----------------------------------------------------------------------------


@contextmanager
def demo_portal(folder: Path):
    """The app on a fresh SQLite database with the demo platform, served on a free port:
    yields (app, base URL, the ids the pages name)."""
    os.environ.setdefault("SECRET_KEY", "screenshots-only-not-a-secret")
    from werkzeug.serving import make_server

    from app import create_app
    from tenants.cli import translate_compile
    from tenants.core.extensions import db
    from tenants.demo import build_demo
    from tenants.jobs.outbox import commit

    translate_compile.callback()  # the .mo files are built, not committed
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'portal.db'}",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "OUTBOX_DIR": str(folder / "outbox"),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with app.app_context():
        db.create_all()
        build_demo(PASSWORD)
        commit()
        ids = _demo_ids()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PORTAL_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="portal", daemon=True)
    thread.start()
    try:
        yield app, app.config["PORTAL_URL"], ids
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


def _demo_ids() -> dict[str, str]:
    from sqlalchemy import select

    from tenants.core.extensions import db
    from tenants.models import Organization, Reseller

    ids = {
        key: db.session.scalar(select(Organization.id).where(Organization.name == name))
        for key, name in ORGANIZATIONS.items()
    }
    ids["reseller"] = db.session.scalar(select(Reseller.id).where(Reseller.name == RESELLER))
    missing = [key for key, value in ids.items() if value is None]
    if missing:
        raise SystemExit(f"The demo no longer has: {missing} (update scripts/screens.py)")
    return ids


def speak(app: Any, language: str) -> None:
    """Every demo person reads the portal in ``language`` (their saved preference)."""
    from sqlalchemy import update

    from tenants.core.extensions import db
    from tenants.jobs.outbox import commit
    from tenants.models import User

    with app.app_context():
        db.session.execute(update(User).values(language=language))
        commit()


# -- the browser ---------------------------------------------------------------------------


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def take(browser: Any, base: str, ids: dict[str, str], shot: Shot, language: str, width: str):
    """Log in as the shot's person in a fresh context, open its page, act, save the PNG."""
    context = browser.new_context(
        locale=BROWSER_LOCALES[language], device_scale_factor=1, **WIDTHS[width]
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        log_in(page, base, LOGINS[shot.login].email)
        response = page.goto(base + shot.path.format(**ids), wait_until="load")
        if response is None or response.status >= 400:
            status = response.status if response else "no answer"
            raise SystemExit(f"{shot.name}: {shot.path} answered {status}")
        if shot.act is not None:
            shot.act(page)
        page.wait_for_load_state("load")
        if shot.focus:
            page.locator(shot.focus).scroll_into_view_if_needed()
        lang = page.locator("html").get_attribute("lang")
        menu = page.locator("#language-menu").inner_text().strip()
        if lang != language or not menu.startswith(LANGUAGE_WORDS[language]):
            raise SystemExit(f"{shot.name}: the page is not in {language!r} ({lang!r}, {menu!r})")
        page.screenshot(path=str(SCREENS / file_name(shot, language, width)))
    finally:
        context.close()


def chromium(playwright: Any) -> Any:
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


# -- the index -----------------------------------------------------------------------------


def write_index() -> Path:
    """docs/screens/README.md: every page's pictures that exist, by role."""
    lines = [
        "# Screenshots",
        "",
        "<!-- Written by scripts/screens.py; regenerate with"
        " `.venv/bin/python scripts/screens.py`. -->",
        "",
        "The main journeys of each role on the demo platform (`flask demo`), in English and",
        "Spanish, at desktop (1280 x 800) and phone (375 x 812) width. Regenerate them all with",
        "`.venv/bin/python scripts/screens.py`; the user guides explain each journey",
        "([reseller](../guide/reseller.md), [organization](../guide/organization.md),",
        "[platform](../guide/platform.md)).",
        "",
        "| page | who | "
        + " | ".join(f"{LANGUAGES[lang]} {width}" for lang, width in _kinds())
        + " |",
        "|---|---|" + "---|" * len(_kinds()),
    ]
    for shot in SHOTS:
        cells = [
            f"[{lang}-{width}]({file_name(shot, lang, width)})"
            if (SCREENS / file_name(shot, lang, width)).exists()
            else "—"
            for lang, width in _kinds()
        ]
        who = ROLES[LOGINS[shot.login].role]
        lines.append(f"| {shot.title} | {who} | " + " | ".join(cells) + " |")
    lines += ["", "## At a glance (English, desktop)", ""]
    for shot in SHOTS:
        name = file_name(shot, "en", "desktop")
        if (SCREENS / name).exists():
            lines += [
                f"**{shot.title}** ({ROLES[LOGINS[shot.login].role]})",
                "",
                f"![{shot.title}]({name})",
                "",
            ]
    index = SCREENS / "README.md"
    index.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return index


def _kinds() -> list[tuple[str, str]]:
    return [(lang, width) for lang in LANGUAGES for width in WIDTHS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="a page name (repeatable)")
    args = parser.parse_args(argv)
    unknown = set(args.only) - {shot.name for shot in SHOTS}
    if unknown:
        parser.error(f"unknown pages: {sorted(unknown)}")
    shots = [shot for shot in SHOTS if not args.only or shot.name in args.only]
    SCREENS.mkdir(parents=True, exist_ok=True)
    if not args.only:  # a full run leaves no picture of a page that is gone
        for old in SCREENS.glob("*.png"):
            old.unlink()
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="screens-") as folder,
        demo_portal(Path(folder)) as (app, base, ids),
        sync_playwright() as playwright,
    ):
        browser = chromium(playwright)
        for language in LANGUAGES:
            speak(app, language)
            for width in WIDTHS:
                for shot in shots:
                    take(browser, base, ids, shot, language, width)
                    print(f"  {file_name(shot, language, width)}", flush=True)
        browser.close()
    index = write_index()
    total = sum(path.stat().st_size for path in SCREENS.glob("*.png"))
    print(f"Wrote {index.relative_to(ROOT)}; {total / 1024 / 1024:.1f} MB of screenshots.")
    if total > MAX_TOTAL_BYTES:
        print(f"Over {MAX_TOTAL_BYTES // 1024 // 1024} MB: trim the page list.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
