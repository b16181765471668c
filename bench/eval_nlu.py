"""The NLU measured like a stranger would: the blind sets in tests/nlu/blind/ (never trained on).

Runs in the Rasa runtime (`make eval-nlu`). For each language it prints
- in-scope accuracy: the share of in-scope messages whose top intent (after the fallback) is the label;
- off-topic rejection: the share of `out_of_scope` messages answered as out of scope (`out_of_scope`,
  `nlu_fallback` or `unsupported_language`);
- the commonest confusions,
and writes everything, with each error, to docs/nlu/blind_report.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BLIND = ROOT / "tests" / "nlu" / "blind"
REPORT = ROOT / "docs" / "nlu" / "blind_report.json"
REJECTED = {"out_of_scope", "nlu_fallback", "unsupported_language"}
GOALS = {"en": (0.95, 0.90), "de": (0.90, 0.85), "nl": (0.90, 0.85)}


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def training_texts() -> set[str]:
    """Every training example, normalised: short common replies ("ja", "hi") occur in both sets."""
    return {normalised(text) for path in (ROOT / "data" / "nlu").rglob("*.yml") for text, _ in load_examples(path)}


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU YAML file; entity annotations are reduced to their text."""
    import re

    pairs = []
    for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                pairs.append((re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text), block["intent"]))
    return pairs


def score(results: list[dict[str, Any]]) -> dict[str, Any]:
    in_scope = [r for r in results if r["label"] != "out_of_scope"]
    off_topic = [r for r in results if r["label"] == "out_of_scope"]
    right = sum(r["predicted"] == r["label"] for r in in_scope)
    rejected = sum(r["predicted"] in REJECTED for r in off_topic)
    confusions = Counter(f'{r["label"]} -> {r["predicted"]}' for r in results
                         if r["predicted"] != r["label"] and not (r["label"] == "out_of_scope"
                                                                  and r["predicted"] in REJECTED))
    return {
        "messages": len(results),
        "in_scope": len(in_scope), "in_scope_accuracy": round(right / max(len(in_scope), 1), 3),
        "off_topic": len(off_topic), "off_topic_rejection": round(rejected / max(len(off_topic), 1), 3),
        "confusions": confusions.most_common(),
    }


async def evaluate(model: Path, languages: list[str]) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    agent = Agent.load(str(model))
    report: dict[str, Any] = {"model": model.name}
    trained = training_texts()
    for language in languages:
        results = []
        for text, label in load_examples(BLIND / f"{language}.yml"):
            parsed = await agent.parse_message(text)
            results.append({"text": text, "label": label, "predicted": parsed["intent"]["name"],
                            "confidence": round(float(parsed["intent"].get("confidence") or 0), 3)})
        figures = score(results)
        figures["errors"] = [r for r in results if r["predicted"] != r["label"]
                             and not (r["label"] == "out_of_scope" and r["predicted"] in REJECTED)]
        figures["results"] = results
        unseen = score([r for r in results if normalised(r["text"]) not in trained])
        figures["unseen"] = {key: unseen[key] for key in ("messages", "in_scope_accuracy", "off_topic_rejection")}
        report[language] = figures
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--languages", nargs="*", default=["en", "de", "nl"])
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    report = asyncio.run(evaluate(args.model, args.languages))
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    met = True
    print(f"{'lang':5} {'messages':>8} {'in-scope acc':>13} {'goal':>5} {'off-topic rej':>14} {'goal':>5}"
          f"   {'not in training: messages, acc, rej'}")
    for language in args.languages:
        figures, (accuracy_goal, rejection_goal) = report[language], GOALS[language]
        met &= figures["in_scope_accuracy"] >= accuracy_goal and figures["off_topic_rejection"] >= rejection_goal
        print(f"{language:5} {figures['messages']:>8} {figures['in_scope_accuracy']:>13.3f} {accuracy_goal:>5.2f} "
              f"{figures['off_topic_rejection']:>14.3f} {rejection_goal:>5.2f}   {figures['unseen']['messages']:>4} "
              f"{figures['unseen']['in_scope_accuracy']:.3f} {figures['unseen']['off_topic_rejection']:.3f}")
    for language in args.languages:
        top = ", ".join(f"{pair} ({n})" for pair, n in report[language]["confusions"][:6])
        print(f"{language} confusions: {top or 'none'}")
    print(f"goals {'met' if met else 'NOT met'}; every error is in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
