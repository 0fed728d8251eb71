"""Each client in a virtualenv of its own under ``.compat/`` (ignored by git), kept between runs.

A venv is reused while its stamp file names the same requirement; otherwise it is
made anew with ``python -m venv`` and ``pip install`` (pip's output goes to
``.compat/<name>.install.log``). Only the package registry is reached, through pip.
An unpinned client ("the current pyfacebook") stays at the version first installed
until ``.compat/`` is removed; the report names the version it ran.

Interpreters: tap-instagram 0.4.6 does not install on Python 3.11 (its pins predate
it), so it gets a 3.10, looked for as a script should: ``$(pyenv root)/versions/3.10.*``
(the newest) when pyenv is installed, else ``python3.10`` on ``PATH``. The other
clients take the interpreter the project runs on (3.11 or newer), or for Airbyte
a 3.11 found the same way (airbyte-source-instagram 4.1.0 wants ``>=3.10,<3.12``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bed import ROOT

COMPAT_DIR = ROOT / ".compat"
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class ClientVenv:
    """A client's venv: its folder name, the pip requirement, the distribution whose
    version is reported, and the Python minor version it needs (``None``: ours)."""

    name: str
    requirement: str
    distribution: str
    python_minor: str | None = None

    @property
    def folder(self) -> Path:
        return COMPAT_DIR / self.name

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    def bin(self, command: str) -> Path:
        return self.folder / "bin" / command


@dataclass(frozen=True)
class Installed:
    venv: ClientVenv
    version: str


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def find_python(minor: str) -> str | None:
    """A CPython ``minor`` (e.g. ``"3.10"``): pyenv's newest ``minor.*``, else ``pythonX.Y``
    on PATH; ``None`` if neither is there."""
    candidates: list[str] = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=30)
        versions = Path(done.stdout.strip()) / "versions"
        if done.returncode == 0 and versions.is_dir():
            pattern = re.compile(rf"^{re.escape(minor)}\.(\d+)$")
            found = sorted(
                (int(m.group(1)), p) for p in versions.iterdir() if (m := pattern.match(p.name))
            )
            candidates += [str(p / "bin" / f"python{minor}") for _, p in reversed(found)]
    on_path = shutil.which(f"python{minor}")
    if on_path:
        candidates.append(on_path)
    want = tuple(int(x) for x in minor.split("."))
    for candidate in candidates:
        if Path(candidate).exists() and _version_of(candidate) == want:
            return candidate
    return None


def _interpreter(venv: ClientVenv) -> str | None:
    if venv.python_minor is None:
        return sys.executable
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running == venv.python_minor:
        return sys.executable
    return find_python(venv.python_minor)


def installed_version(venv: ClientVenv) -> str:
    done = subprocess.run(
        [
            str(venv.python),
            "-c",
            f"import importlib.metadata as m; print(m.version({venv.distribution!r}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else "?"


def ensure(venv: ClientVenv) -> Installed | str:
    """The client's venv, made if missing or stale; or why it cannot be had (one line)."""
    stamp = venv.folder / ".compat-installed"
    if stamp.exists() and stamp.read_text() == venv.requirement and venv.python.exists():
        return Installed(venv, installed_version(venv))
    python = _interpreter(venv)
    if python is None:
        return (
            f"no Python {venv.python_minor} on this machine (looked in $(pyenv root)/versions "
            f"and for python{venv.python_minor} on PATH); {venv.requirement} needs it"
        )
    COMPAT_DIR.mkdir(exist_ok=True)
    shutil.rmtree(venv.folder, ignore_errors=True)
    log = COMPAT_DIR / f"{venv.name}.install.log"
    with log.open("w") as out:
        steps = [
            [python, "-m", "venv", str(venv.folder)],
            [str(venv.python), "-m", "pip", "install", "--progress-bar", "off", venv.requirement],
        ]
        for step in steps:
            try:
                done = subprocess.run(
                    step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S
                )
            except subprocess.TimeoutExpired:
                return f"installing {venv.requirement} took over {INSTALL_TIMEOUT_S} s (see {log})"
            if done.returncode != 0:
                tail = [line for line in log.read_text().splitlines() if line.strip()][-1:]
                why = tail[0][:200] if tail else f"exit {done.returncode}"
                return f"pip could not install {venv.requirement}: {why} (see {log})"
    stamp.write_text(venv.requirement)
    return Installed(venv, installed_version(venv))
