"""The documentation stays inside the repository: every link in README.md and docs/**/*.md is
a relative path to a file of the repository (and, for a Markdown file, to one of its
headings), never a web address; docs/README.md indexes every document."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from reseller.api.reference import anchor

# The documents, not the database: run once.
pytestmark = pytest.mark.sqlite_run

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
WEB_ADDRESS = re.compile(r"\b(?:https?|ftp)://|\bwww\.", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text a reader sees as prose: code blocks, code spans and comments left out."""
    return CODE_SPAN.sub("", FENCE.sub("", COMMENT.sub("", text)))


def links(text: str) -> list[str]:
    seen = prose(text)
    return [
        *INLINE_LINK.findall(seen),
        *REFERENCE_DEFINITION.findall(seen),
        *HTML_LINK.findall(seen),
    ]


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub gives a Markdown file (a repeated one gets -1, -2, …)."""
    counts: Counter[str] = Counter()
    found = set()
    for _hashes, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = anchor(title.replace("`", ""))
        found.add(f"{base}-{counts[base]}" if counts[base] else base)
        counts[base] += 1
    return found


def link_problem(source: Path, target: str) -> str | None:
    """Why ``target``, a link in ``source``, is not a link to a file of the repository."""
    if not target:
        return "an empty link"
    if SCHEME.match(target) or target.startswith("//"):
        return "a web address or another scheme: link a file of the repository"
    if target.startswith("/"):
        return "an absolute path: write it relative to the file"
    path_part, _hash, fragment = target.partition("#")
    resolved = (source.parent / path_part).resolve() if path_part else source
    if not resolved.is_relative_to(ROOT):
        return "outside the repository"
    if not resolved.exists():
        return "no such file in the repository"
    if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
        return f"no heading #{fragment} in {resolved.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_is_a_file_of_the_repository(path):
    text = path.read_text(encoding="utf-8")
    problems = [
        f"{target}: {problem}"
        for target in links(text)
        if (problem := link_problem(path, target)) is not None
    ]
    problems += [
        f"web address in the text: {match.group(0)}…" for match in WEB_ADDRESS.finditer(prose(text))
    ]
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_readme_sends_readers_to_the_documentation_index():
    assert "docs/README.md" in links((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_index_links_every_document():
    linked = {
        (INDEX.parent / target.partition("#")[0]).resolve()
        for target in links(INDEX.read_text(encoding="utf-8"))
        if target.partition("#")[0]
    }
    documents = {path.resolve() for path in DOCS.rglob("*.md")} - {INDEX.resolve()}
    missing = sorted(str(path.relative_to(ROOT)) for path in documents - linked)
    assert not missing, f"docs/README.md does not link: {missing}"


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("https://limits.readthedocs.io/en/stable/", "a web address"),
        ("mailto:someone@example.com", "another scheme"),
        ("/docs/api.md", "an absolute path"),
        ("../../outside.md", "outside the repository"),
        ("missing.md", "no such file"),
        ("api.md#no-such-heading", "no heading #no-such-heading"),
        ("api.md#authentication", None),
        ("#documents", None),
    ],
)
def test_the_checker_tells_each_kind_of_bad_link(target, problem):
    found = link_problem(INDEX, target)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_links_in_code_are_not_links():
    text = "See `[x](https://a.example)` and\n```\nhttps://b.example\n```\n[y](docs/api.md)\n"
    assert links(text) == ["docs/api.md"]
    assert not WEB_ADDRESS.search(prose(text))
