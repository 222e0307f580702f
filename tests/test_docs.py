"""Every file the repository's text points to exists: relative links in the Markdown files (and
the headings their ``#anchors`` name), and paths such as ``docs/CONFIG.md`` or
``scripts/lib.sh`` written in docs, comments and docstrings."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders of the repository: a word followed by "/" is a path only after one of these.
FOLDERS = ("docs", "scripts", "deploy", "bench", "migrations", "zapx", "api", "actors", "tests")
PATH = re.compile(rf"(?<![\w./-])((?:{'|'.join(FOLDERS)})/[\w./-]*\w)")
MD_NAME = re.compile(r"(?<![\w./-])([\w-]+\.md)\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: Pattern names, not files (``migrations/NNN_name.py``).
PLACEHOLDER = re.compile(r"NNN|<|\*")
#: The project's design notes, kept beside the repository, not in it.
OUTSIDE = {"DESIGN.md"}


def _tracked(*suffixes: str) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in names if name.endswith(suffixes) and (ROOT / name).exists()]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}


def test_relative_links_in_markdown_resolve():
    broken = []
    for md in _tracked(".md"):
        for target in LINK.findall(md.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            resolved = (md.parent / file).resolve() if file else md
            where = f"{md.relative_to(ROOT)}: {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{where} (no such heading)")
    assert broken == []


def test_paths_named_in_docs_and_code_exist():
    missing = []
    for path in _tracked(".md", ".py", ".sh", ".conf", ".toml", "scripts/run", "scripts/test"):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            for ref in PATH.findall(line):
                ref = ref.rstrip(".")
                # A path is the repository's, or relative to the file naming it (nginx includes).
                if not PLACEHOLDER.search(ref) and not any(
                    (base / ref).exists() for base in (ROOT, path.parent)
                ):
                    missing.append(f"{where}: {ref}")
            if path.suffix == ".md":
                for name in MD_NAME.findall(line):
                    near = (path.parent / name, ROOT / name, ROOT / "docs" / name)
                    if name not in OUTSIDE and not any(p.exists() for p in near):
                        missing.append(f"{where}: {name}")
    assert missing == []
