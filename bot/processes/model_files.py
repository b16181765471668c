"""Where the trained Rasa model lives: named by a hash of everything that shapes it.

Standard library only: the Makefile runs this with any Python 3 before any venv exists.
`python3 bot/processes/model_files.py` prints the model path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
INPUTS = ("config.yml", "domain.yml", "requirements-rasa.txt")


def training_inputs(root: Path = ROOT) -> list[Path]:
    files = [root / name for name in INPUTS]
    files += sorted((root / "data").rglob("*.yml"))
    return [f for f in files if f.is_file()]


def model_hash(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in training_inputs(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return root / "models" / f"doorstep-{model_hash(root)}.tar.gz"


if __name__ == "__main__":
    print(model_path().relative_to(ROOT))
