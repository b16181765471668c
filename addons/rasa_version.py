"""The one Rasa release our add-ons were written and checked against.

speedups.py and action_guard.py replace Rasa internals (private methods, module-level listeners) and
tracker_store.py builds on the in-memory store's internals: on any other release those may have moved
or changed meaning, so the add-ons refuse to load rather than patch blind.
"""

import rasa

EXPECTED = "3.6.21"


class UnsupportedRasaVersion(RuntimeError):
    """The Rasa found is not the release the add-ons patch."""


def require_supported(found: str | None = None) -> None:
    """Raise `UnsupportedRasaVersion` unless the Rasa found (default: the one imported) is EXPECTED."""
    found = rasa.__version__ if found is None else found
    if found != EXPECTED:
        raise UnsupportedRasaVersion(
            f"Doorstep's Rasa add-ons (addons/) patch Rasa {EXPECTED} only, but Rasa {found} is installed: "
            f"install requirements-rasa.txt (rasa=={EXPECTED}), or check every patch in addons/ against {found} "
            "and update EXPECTED in addons/rasa_version.py.")
