"""Jinja2 for HTML pages, autoescaped."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from bot.core.settings import ROOT

_env = Environment(
    loader=FileSystemLoader(Path(ROOT / "templates" / "web")),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def environment() -> Environment:
    """The one Environment every web page is rendered with."""
    return _env


def render(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status_code)
