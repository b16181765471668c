"""Domain responses in the customer's language (endpoints.yml `nlg: type: addons.nlg.TranslatingNLG`).

domain.yml keeps the English texts; they are the msgids of the catalogues in locale/ (bot/text.py,
Babel and the standard library only, so it runs in the Rasa runtime too). The response is chosen
as Rasa's templated generator chooses it, then its text and button titles are translated into the
conversation's `language` slot before the slots are filled in.
"""

from typing import Any, Dict

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot.text import translate

LANGUAGE_SLOT = "language"


def translated(response: Dict[str, Any], language: str | None) -> Dict[str, Any]:
    """The response with its text and button titles in `language` (English ones kept when untranslated)."""
    if isinstance(response.get("text"), str):
        response["text"] = translate(language, response["text"])
    for button in response.get("buttons") or []:
        if isinstance(button, dict) and isinstance(button.get("title"), str):
            button["title"] = translate(language, button["title"])
    return response


class TranslatingNLG(TemplatedNaturalLanguageGenerator):
    """Rasa's templated generator, answering in the conversation's language."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None,
                 responses: Dict[str, Any] | None = None) -> None:
        super().__init__(responses if responses is not None else (domain or Domain.empty()).responses)

    def _fill_response(self, response: Dict[str, Any], filled_slots: Dict[str, Any] | None = None,
                       **kwargs: Any) -> Dict[str, Any]:
        language = (filled_slots or {}).get(LANGUAGE_SLOT)
        return super()._fill_response(translated(response, language), filled_slots, **kwargs)
