"""Our Rasa-runtime add-ons, checked in the Rasa runtime itself (Python 3.10, .venv-rasa): each script
runs Rasa's own code and ours on the same input and prints one line per case."""

from __future__ import annotations

import os
import subprocess

from bot.core.settings import ROOT

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def run_in_rasa(script: str, *args: str, prefix: str) -> list[str]:
    """Run tests/rasa_runtime/<script> in the Rasa runtime; its lines starting with `prefix`."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    result = subprocess.run([str(RASA_PYTHON), str(ROOT / "tests" / "rasa_runtime" / script), *args],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if line.startswith(prefix)]


def test_the_fast_action_reply_check_agrees_with_rasas_schema_validation() -> None:
    lines = run_in_rasa("speedups_agree.py", prefix="rasa=")
    assert len(lines) == 9
    assert any("rasa=False ours=False" in line for line in lines)  # invalid replies are still refused


def test_rasa_works_on_a_few_turns_at_once_and_queues_the_rest_in_order() -> None:
    (line,) = run_in_rasa("speedups_agree.py", prefix="admission")
    assert line == "admission peak=3 in_order=True ok=True"


def test_with_our_speedups_rasa_parses_and_predicts_as_without() -> None:
    from bot.processes.model_files import model_path

    lines = run_in_rasa("graph_runner_agrees.py", str(model_path()), prefix="same=")
    assert len(lines) == 36 and all(line.startswith("same=True") for line in lines)
    assert {line.split("intent=")[1].split()[0] for line in lines} >= {"greet", "track_package", "inform", "opt_out"}


def test_the_tracker_store_rebuilds_from_saved_events_what_it_would_from_json() -> None:
    lines = run_in_rasa("tracker_store_agrees.py", prefix="same=")
    assert len(lines) == 5 and all(line.startswith("same=True") for line in lines)


def test_a_stuck_action_server_is_given_up_on_in_time_and_frees_the_turns_place() -> None:
    lines = run_in_rasa("action_guard_agrees.py", prefix="guard ")
    assert len(lines) == 9 and all(" ok=True" in line for line in lines), lines
    assert any(line.startswith("guard rasa_waits ok=True") for line in lines)  # Rasa's own would still wait


def test_the_addons_refuse_another_rasa_release_before_patching_anything() -> None:
    refused, touched = run_in_rasa("patches_guarded.py", "version", "3.7.0", prefix="guard ")
    assert refused.startswith("guard refused=UnsupportedRasaVersion")
    assert "Rasa 3.6.21 only" in refused and "Rasa 3.7.0 is installed" in refused
    assert touched == "guard changed=[]"


def test_the_addons_patch_the_rasa_release_they_were_written_for() -> None:
    refused, touched = run_in_rasa("patches_guarded.py", "version", "3.6.21", prefix="guard ")
    assert refused == "guard refused=no"
    assert "'rasa.core.run.load_agent_on_start'" in touched and "'Slot.__copy__'" in touched


def test_restore_undoes_every_patch_the_start_and_stop_listeners_included() -> None:
    lines = run_in_rasa("patches_guarded.py", "restore", prefix="")
    patched = {line.split()[1] for line in lines if line.startswith("patched ")}
    assert {"rasa.core.run.load_agent_on_start", "rasa.core.run.close_resources", "RemoteAction.run",
            "EndpointConfig.session", "MessageProcessor.handle_message"} <= patched
    assert "restored leftover=[]" in lines


def test_action_server_sessions_follow_their_credentials_not_an_id_and_close_when_rasa_stops() -> None:
    lines = run_in_rasa("action_sessions.py", prefix="sessions ")
    assert len(lines) == 8 and all(" ok=True" in line for line in lines), lines
    # the case that matters: a new endpoint where a freed one was, which an id()-keyed cache confused
    assert any("new_endpoint_own_credentials ok=True Bearer second same_id=True" in line for line in lines), lines


def test_a_carrier_stop_or_start_during_a_handoff_is_honoured_and_the_bot_stays_quiet() -> None:
    from bot.processes.model_files import model_path

    lines = run_in_rasa("keywords_in_handoff_agrees.py", str(model_path()), prefix="keywords ")
    assert len(lines) == 11 and all(line.endswith(" ok=True") for line in lines), lines
    assert any(line.startswith("keywords stop_in_handoff rasa=[] ours=['action_confirm_opt_out'") for line in lines)


def test_domain_responses_are_said_in_the_conversations_language_and_messages_set_it() -> None:
    lines = run_in_rasa("language_agrees.py", prefix="")
    said = {line.split(" = ")[0]: line.split(" = ", 1)[1] for line in lines if " = " in line}
    assert "nlg class=TranslatingNLG" in lines  # endpoints.yml names our NLG and Rasa loads it
    assert said["nlg de utter_greet"].startswith("Hallo! Ich bin Doorstep") and "Ihr Paket" in said["nlg de utter_greet"]
    assert said["nlg nl utter_ask_postcode"] == "Bedankt. En de postcode van het bezorgadres?"
    assert said["nlg None utter_greet"] == said["nlg en utter_greet"] == (
        "Hi! I'm Doorstep, the delivery assistant. Ask me where your parcel is, or reply HELP.")
    # Another language: the current one and English, with the way to a person in both.
    unsupported = said["nlg de utter_unsupported_language"]
    assert unsupported.startswith("Entschuldigung") and unsupported.endswith("Reply AGENT for a person.")
    assert said["buttons de"] == "Welches Paket? | Welche Packstation? | 1"  # titles translated, payload kept

    language = {line.split("' language=")[0].removeprefix("lid '"): line.split("' language=")[1]
                for line in lines if line.startswith("lid ")}
    assert language["Wo ist mein Paket? Es sollte gestern kommen"] == "de intent=track_package"
    assert language["Kann das Paket morgen kommen?"] == "de intent=track_package"
    assert language["Waar is mijn pakket? Het zou gisteren komen"] == "nl intent=track_package"
    assert language["ik wil met een medewerker praten"] == "nl intent=track_package"
    assert language["can it come tomorrow instead"] == "en intent=track_package"
    assert language["I want to talk to a person please"] == "en intent=track_package"
    # short English: lingua's confidence is spread (English 0.30, Spanish 0.14), but it is clearly ours
    assert language["hi, where is my parcel?"] == "en intent=track_package"
    assert language["Où est mon colis ? Je ne le trouve pas"] == "None intent=unsupported_language"
    assert language["¿Dónde está mi paquete? No ha llegado"] == "None intent=unsupported_language"
    for short in ("ja", "2", "ok", "DS1234567890", "nee", "/greet", "Oranienstraße 14, 10999 Berlin"):
        assert language[short] == "None intent=track_package", short  # keeps the conversation's language
    # A locker's name (an entity found before) does not make an English message German.
    assert language["can i return it at the Hermannplatz locker"] == "en intent=track_package"
    assert any(line.startswith("pipeline nodes=['run_addons.language_id.LanguageIdentifier") for line in lines)
    # The chat widget's page language reaches the session start; only en/de/nl are passed on.
    assert [line for line in lines if line.startswith("webchat ")] == [
        "webchat hint='de' language=de", "webchat hint='nl' language=nl", "webchat hint='fr' language=None",
        "webchat hint=['de'] language=None", "webchat hint=None language=None"]
