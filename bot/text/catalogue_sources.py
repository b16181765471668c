"""Where Doorstep's customer texts are, for the catalogues in locale/: extraction with Babel
(scripts/update_catalogues.py writes the catalogues, tests/test_text.py checks that every text has a German
and a Dutch translation).

Sources: the Python code of the actions, the Rasa add-ons and the app (`t(language, "…")`,
`pt(language, "context", "…")`, `N_("…")`, `NP_("context", "…")`), the domain's responses, and the Jinja
templates of the notifications and the customer's web pages (`t("…")`, `pt("context", "…")`).
A message is keyed as bot.text keys it: its msgid, or "context\\x04msgid".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml
from babel.messages.extract import extract_from_file
from jinja2.ext import babel_extract

from bot.core.settings import ROOT
from bot.text import key

PYTHON_KEYWORDS = {"t": (2,), "pt": ((2, "c"), 3), "N_": None, "NP_": ((1, "c"), 2)}
TEMPLATE_KEYWORDS = {"t": None, "pt": ((1, "c"), 2)}
PYTHON_SOURCES = ("actions", "addons", "bot")
TEMPLATE_SOURCES = ("templates/notifications", "templates/web")
JINJA_OPTIONS = {"trim_blocks": "true", "lstrip_blocks": "true"}


def _files(root: Path, sources: tuple[str, ...], pattern: str) -> Iterator[Path]:
    for source in sources:
        path = root / source
        yield from sorted(path.rglob(pattern)) if path.is_dir() else [path]


def _extracted(path: Path, root: Path, method: object, keywords: Mapping[str, object],
               options: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    for lineno, message, _comments, context in extract_from_file(method, str(path), keywords=keywords,  # type: ignore[arg-type]
                                                                 options=options):
        if isinstance(message, str) and message:
            yield key(message, context), f"{path.relative_to(root)}:{lineno}"


def python_messages(root: Path = ROOT) -> dict[str, str]:
    """key → 'file:line' of its first use, from the Python sources."""
    found: dict[str, str] = {}
    for path in _files(root, PYTHON_SOURCES, "*.py"):
        for message, where in _extracted(path, root, "python", PYTHON_KEYWORDS):
            found.setdefault(message, where)
    return found


def template_messages(root: Path = ROOT) -> dict[str, str]:
    """key → 'file:line' of its first use, from the notification and web page templates."""
    found: dict[str, str] = {}
    for pattern in ("*.j2", "*.html"):
        for path in _files(root, TEMPLATE_SOURCES, pattern):
            for message, where in _extracted(path, root, babel_extract, TEMPLATE_KEYWORDS, JINJA_OPTIONS):
                found.setdefault(message, where)
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
    """Every customer text: key → where it is first used."""
    return {**domain_messages(root), **template_messages(root), **python_messages(root)}
