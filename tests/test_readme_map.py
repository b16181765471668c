"""The README's map of the code ("Where each flow lives", the tree) names files that exist."""

import re

from bot.core.settings import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start)
    return README[start:end if end != -1 else None]


def test_every_path_in_the_flow_map_exists() -> None:
    table = _section("### Where each flow lives")
    paths = re.findall(r"`([a-z_]+/[\w/.-]+)`", table)
    assert len(paths) > 40  # the table is there and read
    missing = [path for path in paths if not (ROOT / path).exists()]
    assert missing == []


def test_every_layer_in_the_tree_is_a_package() -> None:
    tree = README[README.index("bot/                  the application"):]
    tree = tree[:tree.index("```")]
    layers = re.findall(r"^  ([a-z]+)/ ", tree, flags=re.MULTILINE)
    assert {"core", "changes", "carriers", "text", "processes"} <= set(layers)
    assert [layer for layer in layers if not (ROOT / "bot" / layer / "__init__.py").exists()] == []
    loose = sorted(p.name for p in (ROOT / "bot").glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == []  # every module of bot/ is in a layer
