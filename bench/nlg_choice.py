"""Domain responses in three languages: TranslatingNLG (addons/nlg.py) against Rasa's conditional response
variations on the `language` slot. Run in the Rasa runtime:

    .venv-rasa/bin/python -m bench.nlg_choice

It counts what each way costs per bot turn: action-server calls (the action Rasa builds for an `utter_`
name: a local ActionBotResponse, or a RemoteAction that calls the action server), and the time of one
response's generation, for every response in domain.yml in every language. The conditional domain is
built in memory from domain.yml and the catalogues; domain.yml is not changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from rasa.core.actions.action import RemoteAction, action_for_name_or_text
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from addons.nlg import TranslatingNLG
from bot.text import LANGUAGES, translate

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 200


def conditional(responses: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Every variation once per language, conditioned on the `language` slot, its texts translated."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, variations in responses.items():
        out[name] = []
        for variation in variations:
            for language in LANGUAGES:
                copy = {**variation, "condition": [{"type": "slot", "name": "language", "value": language}]}
                if isinstance(copy.get("text"), str):
                    copy["text"] = translate(language, copy["text"])
                if copy.get("buttons"):
                    copy["buttons"] = [{**b, "title": translate(language, b["title"])} for b in copy["buttons"]]
                out[name].append(copy)
    return out


def per_call_microseconds(nlg: TemplatedNaturalLanguageGenerator, names: list[str]) -> float:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for name in names:
            for language in LANGUAGES:
                nlg.generate_from_slots(name, {"language": language}, "twilio")
    return (time.perf_counter() - started) / (ROUNDS * len(names) * len(LANGUAGES)) * 1e6


def main() -> None:
    raw = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    domain = Domain.from_path(str(ROOT / "domain.yml"))
    names = sorted(raw["responses"])
    endpoint = EndpointConfig("http://localhost:5055/webhook")
    remote = [n for n in names if isinstance(action_for_name_or_text(n, domain, endpoint), RemoteAction)]
    translating = TranslatingNLG(responses=domain.responses)
    variations = TemplatedNaturalLanguageGenerator(conditional(domain.responses))
    for name in names:  # both say the same thing
        for language in LANGUAGES:
            a = translating.generate_from_slots(name, {"language": language}, "twilio")
            b = variations.generate_from_slots(name, {"language": language}, "twilio")
            assert (a or {}).get("text") == (b or {}).get("text") or len(raw["responses"][name]) > 1, name
    print(f"responses: {len(names)}; variations in domain.yml: {sum(map(len, raw['responses'].values()))} "
          f"(conditional: {sum(map(len, variations.responses.values()))})")
    print(f"action-server calls per utter_ response: 0 for both (RemoteAction for {len(remote)} of {len(names)})")
    print(f"generation per response: TranslatingNLG {per_call_microseconds(translating, names):.1f} µs, "
          f"conditional variations {per_call_microseconds(variations, names):.1f} µs")


if __name__ == "__main__":
    main()
