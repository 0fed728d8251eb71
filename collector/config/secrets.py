"""Secret references: where a token or app secret comes from, resolved once at load time.

A secret is written in the config (or the registry CSV) as one of:

- ``env:NAME``  -- the value of environment variable ``NAME``;
- ``file:PATH`` -- the content of a file (one line; surrounding whitespace dropped);
  a relative ``PATH`` is taken from the folder of the file that names it;
- anything else -- the secret itself, written literally. It works, but the loader
  counts it so the config can warn that secrets sit in a file that may be shared.

Contract: nothing in this module ever puts a secret's *value* into an exception,
a repr or a log line. Errors name the variable or the file, never what they hold.
A text that looks like ``scheme:...`` with an unknown scheme is refused rather
than sent to Meta as a token: Graph tokens and app secrets never contain ``:``,
so such a text is almost surely a mistyped reference (``enV:``, ``envs:``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from collector.config.checks import Problem

ENV_PREFIX = "env:"
FILE_PREFIX = "file:"

# A secret file holds one token; anything bigger is the wrong file, and reading
# it whole could pull a private key or a log into memory for nothing.
MAX_SECRET_FILE_BYTES = 16 * 1024

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_+.-]{0,15}):")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretError(ValueError):
    """A secret reference that cannot be resolved; ``problem`` and ``fix`` never hold the value."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; fix: {fix}")
        self.problem = problem
        self.fix = fix


class SecretKind(StrEnum):
    """Where a secret's value comes from."""

    ENV = "env"
    FILE = "file"
    LITERAL = "literal"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A parsed reference: its kind and target (variable name, path, or the literal value).

    ``target`` is hidden from ``repr`` because for a literal it *is* the secret.
    """

    kind: SecretKind
    target: str = field(repr=False)


def parse_reference(text: str) -> SecretRef:
    """Split ``text`` into kind and target; raises :class:`SecretError` for a malformed one.

    Raises for: an empty text, ``env:`` without a valid variable name, ``file:``
    without a path, and an unknown ``scheme:`` prefix (named, the rest withheld).
    """
    stripped = text.strip()
    if not stripped:
        raise SecretError("the secret is empty", "write env:NAME, file:PATH or the value itself")
    lowered = stripped.lower()
    if lowered.startswith(ENV_PREFIX):
        name = stripped[len(ENV_PREFIX) :].strip()
        if not _ENV_NAME_RE.match(name):
            raise SecretError(
                "env: must be followed by an environment variable name",
                "write env:NAME with NAME made of letters, digits and _",
            )
        return SecretRef(SecretKind.ENV, name)
    if lowered.startswith(FILE_PREFIX):
        path = stripped[len(FILE_PREFIX) :].strip()
        if not path:
            raise SecretError("file: must be followed by a path", "write file:PATH")
        return SecretRef(SecretKind.FILE, path)
    scheme = _SCHEME_RE.match(stripped)
    if scheme:
        raise SecretError(
            f"unknown secret reference scheme {scheme.group(1)!r}:",
            "use env:NAME or file:PATH (a literal token never contains ':')",
        )
    return SecretRef(SecretKind.LITERAL, stripped)


class SecretResolver:
    """Turns references into values for one load; caches files, counts literals.

    One resolver serves a whole config load, so a token file named by thousands
    of registry rows is read once, and ``literal_count`` covers every secret.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._files: dict[Path, str] = {}
        self._literals = 0

    @property
    def literal_count(self) -> int:
        """How many secrets resolved so far were written literally."""
        return self._literals

    def resolve(self, text: str, *, base_dir: Path) -> str:
        """The value ``text`` refers to; raises :class:`SecretError` if it has none.

        ``base_dir`` anchors a relative ``file:`` path (the folder of the file that
        holds the reference). The value has surrounding whitespace removed and must
        be a single non-empty word: a token with a newline inside would corrupt an
        HTTP header.
        """
        ref = parse_reference(text)
        if ref.kind is SecretKind.LITERAL:
            self._literals += 1
            value = ref.target
        elif ref.kind is SecretKind.ENV:
            value = self._from_env(ref.target)
        else:
            value = self._from_file(ref.target, base_dir)
        if any(ch.isspace() for ch in value):
            raise SecretError(
                f"the secret from {_describe(ref)} contains whitespace inside",
                "a token or app secret is one word; check the value",
            )
        return value

    def resolve_into(
        self, text: str, base_dir: Path, file: Path, where: str, found: list[Problem]
    ) -> str | None:
        """:meth:`resolve`, but a failure is appended to ``found`` as a problem of
        ``file`` at ``where`` (naming the key, never the value) and gives ``None``."""
        try:
            return self.resolve(text, base_dir=base_dir)
        except SecretError as exc:
            found.append(Problem(file, where, exc.problem, exc.fix))
            return None

    def file_of(self, text: str, *, base_dir: Path) -> Path | None:
        """The file a ``file:`` reference names (``None``: another kind, or malformed)."""
        try:
            ref = parse_reference(text)
        except SecretError:
            return None
        if ref.kind is not SecretKind.FILE:
            return None
        path = Path(ref.target).expanduser()
        return path if path.is_absolute() else base_dir / path

    def _from_env(self, name: str) -> str:
        if name not in self._environ:
            raise SecretError(
                f"environment variable {name} is not set",
                f"export {name}=... before running, or use file:PATH",
            )
        value = self._environ[name].strip()
        if not value:
            raise SecretError(
                f"environment variable {name} is set but empty",
                f"put the secret into {name}",
            )
        return value

    def _from_file(self, raw_path: str, base_dir: Path) -> str:
        path = Path(raw_path).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        cached = self._files.get(path)
        if cached is not None:
            return cached
        value = _read_secret_file(path)
        self._files[path] = value
        return value


def _read_secret_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_SECRET_FILE_BYTES:
            raise SecretError(
                f"secret file {path} is {size} bytes; a secret file holds one token",
                "point file: at the file that holds only the secret",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretError(
            f"secret file {path} does not exist", "create it or fix the path after file:"
        ) from None
    except IsADirectoryError:
        raise SecretError(f"secret file {path} is a directory", "point file: at a file") from None
    except UnicodeDecodeError:
        raise SecretError(
            f"secret file {path} is not UTF-8 text", "write the secret as plain text"
        ) from None
    except OSError as exc:
        # exc.strerror is the OS reason ("Permission denied"); it never holds content
        raise SecretError(
            f"secret file {path} cannot be read ({exc.strerror})", "check its permissions"
        ) from None
    value = text.strip()
    if not value:
        raise SecretError(f"secret file {path} is empty", "write the secret into it")
    if "\n" in value:
        raise SecretError(
            f"secret file {path} holds more than one line",
            "keep only the secret in the file",
        )
    return value


def _describe(ref: SecretRef) -> str:
    if ref.kind is SecretKind.ENV:
        return f"environment variable {ref.target}"
    if ref.kind is SecretKind.FILE:
        return f"file {ref.target}"
    return "the literal value"
