"""The docs a reader follows: every relative link leads somewhere, and the code map is true.

Links are checked in README.md, docs/*.md and supabase/tests/README.md: the file must exist, and
an anchor must name a heading of it (GitHub's slugs). The README's code map names a path in the
first column of each row; each must exist, so a move that forgets the map fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CODE_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _documents() -> list[Path]:
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "supabase/tests/README.md",
    ]


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = CODE_FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    broken = []
    for doc in _documents():
        text = CODE_FENCE.sub("", doc.read_text())
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            where = f"{doc.relative_to(ROOT)}: {target}"
            if not dest.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{where} (no such heading)")
    assert broken == []


def test_the_readme_code_map_names_paths_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Code map", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 10
    named = [p for row in rows for p in re.findall(r"`([^`]+)`", row.split("|")[1])]
    assert [p for p in named if not (ROOT / p).exists()] == []
