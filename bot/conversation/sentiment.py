"""A plain, explainable anger check: enough to hand an upset customer to a person quickly."""

from __future__ import annotations

import re

ANGRY_WORDS = {
    "ridiculous", "useless", "pathetic", "joke", "unacceptable", "furious", "disgusting", "worst", "scam",
    "wtf", "ffs", "fuck", "fucking", "shit", "crap", "damn", "bloody", "angry", "fed up", "sick of",
    "complaint", "incompetent", "lied", "liars", "rubbish", "terrible", "awful", "outrageous",
    # German
    "frechheit", "unverschämt", "unverschaemt", "lächerlich", "laecherlich", "scheiße", "scheisse", "scheiß",
    "scheiss", "mist", "katastrophe", "unfähig", "unfaehig", "inkompetent", "beschwerde", "wütend", "wuetend",
    "sauer", "betrug", "betrüger", "verarsche", "verarschen", "zumutung", "schrecklich",
    "die nase voll", "reicht mir",
    # Dutch
    "belachelijk", "schandalig", "waardeloos", "klacht", "boos", "woedend", "kut", "klote", "godverdomme",
    "verschrikkelijk", "onacceptabel", "oplichters", "oplichting", "bagger", "ben het zat",
}


def is_angry(text: str) -> bool:
    """Strong words, or shouting: most letters in capitals with several exclamation marks."""
    lowered = text.lower()
    words = set(re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", lowered))
    if words & ANGRY_WORDS or any(phrase in lowered for phrase in ANGRY_WORDS if " " in phrase):
        return True
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return (shouting and text.count("!") >= 2) or text.count("!") >= 4
