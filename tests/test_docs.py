"""The documentation's contract: README.md is a short product page, and no link in the docs is broken.

README.md: at most 300 lines, `make demo` and `make test` within its first 40 lines, no issue
references ("[3 of 4]", "issue 4") and no commit hashes (those belong in docs/experiments/).
README.md and docs/**/*.md: every relative link points at a file that exists (anchors ignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

MAX_README_LINES = 300
QUICK_START_LINES = 40

ISSUE_REFERENCE = re.compile(r"\[\s*\d+\s+of\s+\d+\s*\]|\bissues?\s+#?\d+\b", re.IGNORECASE)
# 7-40 hex characters with at least one digit and one letter a-f: a commit hash, not a number or a word.
COMMIT_HASH = re.compile(r"(?<![0-9A-Za-z_])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![0-9A-Za-z_])")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are examples, not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def relative_links(text: str) -> list[str]:
    """Targets of the markdown links in ``text`` that point into the repository (anchors stripped)."""
    targets = []
    for match in LINK.finditer(prose(text)):
        target = match.group(1)
        if EXTERNAL.match(target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path:
            targets.append(path)
    return targets


def broken_links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [t for t in relative_links(text) if not (path.parent / t).exists()]


# ---- the checkers themselves -------------------------------------------------------------------


def test_checkers_find_what_they_should():
    assert COMMIT_HASH.search("quality at commit 23f2f68, speed at d938de7")
    assert COMMIT_HASH.search("(commit 0317dd2)")
    assert not COMMIT_HASH.search("6,764 products, 1000000 rows, a facade, deadbeefs, ab12")
    assert ISSUE_REFERENCE.search('issue "[3 of 4]" in progress')
    assert ISSUE_REFERENCE.search("done in issue 4")
    assert not ISSUE_REFERENCE.search("[the docs](docs/index.md) and 3 of 4 folds")
    text = (
        "see [a](docs/a.md#x), [b](https://x.org/b.md), [c](#top), ![d](img/d.png) and `[e](no.md)`\n"
        "```\n[f](no.md)\n```"
    )
    assert relative_links(text) == ["docs/a.md", "img/d.png"]


def test_broken_link_is_reported(tmp_path: Path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# there\n", encoding="utf-8")
    page.write_text("[ok](there.md#part) [gone](missing.md)\n", encoding="utf-8")
    assert broken_links(page) == ["missing.md"]


# ---- README.md ---------------------------------------------------------------------------------


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; at most {MAX_README_LINES}"


def test_readme_starts_with_the_two_commands():
    head = "\n".join(README.read_text(encoding="utf-8").splitlines()[:QUICK_START_LINES])
    for command in ("make demo", "make test"):
        assert re.search(rf"^\s*{command}\b", head, re.MULTILINE), (
            f"`{command}` must start a line within README.md's first {QUICK_START_LINES} lines"
        )


def test_readme_has_no_issue_references_or_commit_hashes():
    text = README.read_text(encoding="utf-8")
    issues = ISSUE_REFERENCE.findall(text)
    hashes = COMMIT_HASH.findall(text)
    assert not issues, f"issue references in README.md (they belong in docs/experiments/): {issues}"
    assert not hashes, f"commit hashes in README.md (they belong in docs/experiments/): {hashes}"


# ---- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(path: Path):
    broken = broken_links(path)
    assert not broken, f"{path.relative_to(ROOT)} links to missing files: {broken}"


def test_experiment_index_lists_every_study():
    index = (DOCS / "experiments" / "README.md").read_text(encoding="utf-8")
    listed = set(relative_links(index))
    studies = {p.name for p in (DOCS / "experiments").glob("*.md") if p.name != "README.md"}
    assert studies, "docs/experiments/ has no studies"
    assert studies <= listed, f"studies missing from docs/experiments/README.md: {sorted(studies - listed)}"
