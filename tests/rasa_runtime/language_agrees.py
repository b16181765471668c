"""Runs in the Rasa runtime (.venv-rasa): domain responses in the conversation's language through the
NLG that endpoints.yml names (addons/nlg.py), the language of messages (addons/language_id.py), and
config.yml's pipeline building with it. Prints one line per case."""

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
for name in ("ACTION_SERVER_URL", "ACTION_SERVER_SECRET", "RASA_TRACKER_TYPE", "RASA_TRACKER_DIALECT",
             "RASA_TRACKER_URL", "RASA_TRACKER_DB", "RASA_LOCK_STORE_TYPE", "RASA_LOCK_STORE_HOST",
             "RASA_LOCK_STORE_PORT", "RASA_LOCK_STORE_DB", "RASA_LOCK_STORE_PASSWORD", "RASA_LOCK_STORE_PREFIX"):
    os.environ.setdefault(name, "x")

from rasa.core.nlg import NaturalLanguageGenerator  # noqa: E402
from rasa.core.utils import AvailableEndpoints  # noqa: E402
from rasa.engine.recipes.default_recipe import DefaultV1Recipe  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import SlotSet  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.utils.io import read_yaml_file  # noqa: E402

from addons.language_id import LanguageIdentifier  # noqa: E402
from addons.nlg import translated  # noqa: E402

domain = Domain.load("domain.yml")
nlg = NaturalLanguageGenerator.create(AvailableEndpoints.read_endpoints("endpoints.yml").nlg, domain)
print(f"nlg class={type(nlg).__name__}")


async def render(language, action):
    events = [SlotSet("language", language)] if language else []
    tracker = DialogueStateTracker.from_events("someone", events, slots=domain.slots)
    response = await nlg.generate(action, tracker, "rest")
    return response["text"]


for language in (None, "en", "de", "nl"):
    for action in ("utter_greet", "utter_ask_postcode", "utter_unsupported_language"):
        print(f"nlg {language} {action} = {asyncio.run(render(language, action))}")
buttons = translated({"text": "Which parcel?", "buttons": [{"title": "Which locker?", "payload": "1"}]}, "de")
print(f"buttons de = {buttons['text']} | {buttons['buttons'][0]['title']} | {buttons['buttons'][0]['payload']}")

component = LanguageIdentifier(LanguageIdentifier.get_default_config())
CASES = [
    ("Wo ist mein Paket? Es sollte gestern kommen", []),
    ("Kann das Paket morgen kommen?", []),
    ("Waar is mijn pakket? Het zou gisteren komen", []),
    ("ik wil met een medewerker praten", []),
    ("can it come tomorrow instead", []),
    ("I want to talk to a person please", []),
    ("hi, where is my parcel?", []),
    ("Où est mon colis ? Je ne le trouve pas", []),
    ("¿Dónde está mi paquete? No ha llegado", []),
    ("ja", []), ("2", []), ("ok", []), ("DS1234567890", []), ("nee", []), ("/greet", []),
    ("Oranienstraße 14, 10999 Berlin", []),
    ("can i return it at the Hermannplatz locker", [{"entity": "locker", "start": 23, "end": 35, "value": "x"}]),
]
for text, entities in CASES:
    message = Message(data={"text": text, "entities": list(entities),
                            "intent": {"name": "track_package", "confidence": 0.9}})
    component.process([message])
    found = [e["value"] for e in message.get("entities") or [] if e["entity"] == "language"]
    print(f"lid {text!r} language={found[0] if found else None} intent={message.get('intent')['name']}")

config = read_yaml_file("config.yml")
schemas = DefaultV1Recipe().graph_config_for_recipe(config, {}, training_type=None)
nodes = [name for name, node in schemas.predict_schema.nodes.items()
         if node.uses.__name__ == "LanguageIdentifier"]
print(f"pipeline nodes={nodes}")

from addons.webchat_channel import WebChatInput  # noqa: E402

channel = WebChatInput.from_credentials({})
for hint in ("de", "nl", "fr", ["de"], None):
    metadata = channel._metadata({"metadata": {"token": "abc", "language": hint}}, "192.0.2.1")
    print(f"webchat hint={hint!r} language={metadata.get('language')}")
