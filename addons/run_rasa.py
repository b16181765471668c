"""Start `rasa` with its API token taken from the environment, not the command line.

`python -m addons.run_rasa run --model … --enable-api` behaves as `rasa run … --auth-token $RASA_TOKEN`,
but the token is added to rasa's arguments inside this process: /proc/<pid>/cmdline (and `ps`) is
readable by every local user, /proc/<pid>/environ only by the process's owner.
"""

import os
import sys

TOKEN_VARIABLE = "RASA_TOKEN"


def rasa_arguments(arguments: list[str], token: str) -> list[str]:
    """rasa's own arguments with the API token added (refused when the caller put one there)."""
    if "--auth-token" in arguments:
        raise SystemExit(f"run_rasa: pass the token in {TOKEN_VARIABLE}, not on the command line")
    return [*arguments, "--auth-token", token] if token else list(arguments)


def main() -> None:
    token = os.environ.pop(TOKEN_VARIABLE, "")
    sys.argv = ["rasa", *rasa_arguments(sys.argv[1:], token)]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
