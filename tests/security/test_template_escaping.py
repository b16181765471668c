"""Issue 12 item 3: every HTML template escapes what it is given; text and SMS templates do not.

Parametrised over the template files on disk, so a new template is attacked as soon as it exists.
Every variable a template reads gets a hostile value (also every attribute of it, every item of it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, meta

from bot.core.settings import ROOT
from bot.notify.render import LOCALES, TEMPLATES, environment, render
from bot.web.pages import environment as web_environment

HOSTILE = ('leave it <a href=//evil.example>here</a> <img src=x onerror=alert(1)> '
           '<script>alert(2)</script> " onmouseover="alert(3)')
RAW_MARKUP = ("<a href=//evil", "<img src=x", "<script>alert", 'onerror=alert(1)>', '" onmouseover="alert')
WEB_TEMPLATES = ROOT / "templates" / "web"
# "<locale>/<trigger>.j2": one template per trigger, rendered in every locale.
NOTIFICATION_TEMPLATES = sorted(f"{locale}/{p.name}" for p in TEMPLATES.glob("*.j2") for locale in LOCALES
                                if not p.name.endswith(".html.j2"))


class Value(str):
    """A string whose attributes, items and calls are the same string: any template can walk it."""

    def __new__(cls, text: str = HOSTILE) -> Value:
        return super().__new__(cls, text)

    def _same(self) -> Value:
        return Value(str(self))

    def __getattr__(self, name: str) -> Value:
        if name.startswith("__"):  # never pretend to be markup (`__html__`) or anything special
            raise AttributeError(name)
        return self._same()

    def __getitem__(self, key: Any) -> Value:  # type: ignore[override]
        return self._same()

    def __call__(self, *args: Any, **kwargs: Any) -> Value:
        return self._same()

    def __iter__(self) -> Iterator[Value]:  # type: ignore[override]
        return iter([self._same(), self._same()])

    def __floordiv__(self, other: Any) -> int:  # numbers in a template (waiting minutes, shares)
        return 0

    def __mul__(self, other: Any) -> int:  # type: ignore[override]
        return 0

    def __float__(self) -> float:
        return 0.0

    def __hash__(self) -> int:
        return str.__hash__(self)


class Elements(HTMLParser):
    """The tags and attribute names of a document: what markup it has, whatever the text says."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, tuple(sorted(name for name, _ in attrs))))


def elements(html: str) -> list[tuple[str, tuple[str, ...]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def variables(env: Environment, name: str) -> set[str]:
    """Every variable the template (and what it extends or includes) reads."""
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    found = meta.find_undeclared_variables(env.parse(source))
    for other in meta.find_referenced_templates(env.parse(source)):
        if other:
            found |= variables(env, other)
    return found


def assert_no_live_markup(html: str, name: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in html, f"{name}: {raw!r} reached the HTML unescaped"
    attributes = {attr for _, attrs in elements(html) for attr in attrs}
    assert not any(attr.startswith("on") for attr in attributes), f"{name}: an event handler attribute"


def test_the_parametrisation_sees_every_template() -> None:
    web = sorted(p.name for p in WEB_TEMPLATES.glob("*.html"))
    assert len(web) >= 16 and "agent_conversation.html" in web and "mailbox.html" in web
    triggers = {Path(name).name for name in NOTIFICATION_TEMPLATES if "/" in name}
    assert len(triggers) >= 12 and "delivered.j2" in triggers
    assert len(NOTIFICATION_TEMPLATES) == len(triggers) * len(LOCALES)  # every trigger in every locale
    assert (TEMPLATES / "layout.html.j2").exists()


def test_every_jinja_environment_in_the_project_is_covered_here() -> None:
    """A new Environment somewhere would escape this test: it must be added to it."""
    made = sorted(str(p.relative_to(ROOT)) for folder in ("bot", "actions", "addons")
                  for p in (ROOT / folder).rglob("*.py")
                  if re.search(r"\b(Environment|Jinja2Templates|Template)\(", p.read_text()))
    assert made == ["bot/notify/render.py", "bot/web/pages.py"]


@pytest.mark.parametrize("name", sorted(p.name for p in WEB_TEMPLATES.glob("*.html")))
def test_web_pages_escape_every_value(name: str) -> None:
    env = web_environment()
    names = variables(env, name)
    html = env.get_template(name).render(**{var: Value() for var in names})
    benign = env.get_template(name).render(**{var: Value("Meyer & Sons") for var in names})
    assert_no_live_markup(html, name)
    assert elements(html) == elements(benign), f"{name}: hostile values changed the page's markup"
    if "main" in html or name.startswith("agent_queue_items"):
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, f"{name}: the hostile value never reached the page"


@pytest.mark.parametrize("template", NOTIFICATION_TEMPLATES)
def test_notification_emails_escape_every_value_and_texts_stay_plain(template: str) -> None:
    locale, trigger = template.removesuffix(".j2").split("/")
    names = variables(environment(), f"{trigger}.j2") | {"link"}
    context: dict[str, object] = {var: HOSTILE for var in names}
    context.update(stops_before=3, return_method="label")  # numbers and choices the templates branch on
    benign = render(trigger, locale, {**context, **{k: "Meyer & Sons" for k, v in context.items() if v == HOSTILE}})
    out = render(trigger, locale, context)

    assert_no_live_markup(out.html, template)
    assert elements(out.html) == elements(benign.html), "hostile values changed the email's markup"
    assert "&lt;a href=//evil.example&gt;" in out.html
    # Plain text and SMS are not HTML: the customer's words come back as they wrote them.
    assert HOSTILE in out.text and "&lt;" not in out.text and "&amp;" not in out.text
    assert "Meyer & Sons" in benign.sms and "&amp;" not in benign.sms and "&lt;" not in out.sms
    assert "&amp;" not in out.subject and "&lt;" not in out.subject


def test_the_delivered_email_from_the_probe_has_no_live_link() -> None:
    """The probe's own case: instructions `leave it <a href=//evil.example>here</a>` in the delivered email."""
    context: dict[str, object] = {var: "" for var in variables(environment(), "delivered.j2")}
    context.update(first_name="Ben", tracking_number="DS7157461338", link="http://localhost:8000/t/abc",
                   left_at="leave it <a href=//evil.example>here</a>")
    html = render("delivered", "en", context).html
    assert "<a href=//evil.example>" not in html
    assert "leave it &lt;a href=//evil.example&gt;here&lt;/a&gt;" in html
    assert [attrs for tag, attrs in elements(html) if tag == "a"] == [("href", "style")]  # only our button
