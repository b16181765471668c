"""Where the bot's texts are, for the catalogues in locale/: extraction with Babel (scripts/update_catalogues.py
writes them, tests/test_text.py checks that each has a German and a Dutch translation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml
from babel.messages.extract import extract_from_file

from bot.settings import ROOT

# t(language, "msgid", ...); N_("msgid") for texts kept in constants.
KEYWORDS = {"t": (2,), "N_": None}
PYTHON_SOURCES = ("actions", "addons", "bot/status_text.py", "bot/carriers", "bot/aftercare", "bot/changes")


def _python_files(root: Path) -> Iterator[Path]:
    for source in PYTHON_SOURCES:
        path = root / source
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def python_messages(root: Path = ROOT) -> dict[str, str]:
    """msgid → 'file:line' of its first use, from the Python sources."""
    found: dict[str, str] = {}
    for path in _python_files(root):
        for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            if isinstance(message, str) and message:
                found.setdefault(message, f"{path.relative_to(root)}:{lineno}")
    return found


def domain_messages(root: Path = ROOT) -> dict[str, str]:
    """msgid → 'domain.yml:<response>' for every response text and button title."""
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for name, variations in (domain.get("responses") or {}).items():
        for variation in variations:
            texts = [variation.get("text")] + [b.get("title") for b in variation.get("buttons") or []]
            for text in texts:
                if isinstance(text, str) and text:
                    found.setdefault(text, f"domain.yml:{name}")
    return found


def all_messages(root: Path = ROOT) -> dict[str, str]:
    return {**domain_messages(root), **python_messages(root)}
