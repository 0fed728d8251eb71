"""Every account of the config: ``[[accounts]]`` first, then the registry CSV's rows.

The schema (:mod:`collector.config.schema`) checks each ``[[accounts]]`` entry alone;
what needs the whole list is checked here, every mistake collected: an id listed
twice (in the TOML, the CSV or across both, naming both places), an app not in
``[[apps]]``, a token that does not resolve. The CSV itself is read strictly by
:mod:`collector.config.registry`, which stops at its first mistake.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from collector.config.checks import ConfigError, Problem, closest
from collector.config.registry import AccountConfig, read_registry
from collector.config.schema import AccountTable, RegistryTable
from collector.config.secrets import SecretResolver


def load_accounts(
    file: Path,
    entries: Sequence[AccountTable | None],
    registry: RegistryTable | None,
    app_names: Sequence[str],
    resolver: SecretResolver,
    found: list[Problem],
) -> tuple[AccountConfig, ...]:
    """The accounts of the config ``file``; every mistake is appended to ``found``.

    ``entries`` are the ``[[accounts]]`` tables (``None``: one the schema refused);
    a relative ``[registry].path`` is taken from the config file's folder. No account
    anywhere, with nothing else wrong, is a mistake too.
    """
    before = len(found)
    accounts: list[AccountConfig] = []
    origin: dict[str, str] = {}  # account id -> where it was first listed
    for index, entry in enumerate(entries, start=1):
        if entry is None:
            continue
        where = f"accounts[{index}]"
        if entry.id in origin:
            found.append(
                Problem(
                    file,
                    f"{where}.id",
                    f"account {entry.id} is listed twice (also {origin[entry.id]})",
                    "remove one",
                )
            )
            continue
        origin[entry.id] = where
        if entry.app not in app_names:
            found.append(Problem(file, f"{where}.app", *_unknown_app(entry.app, app_names)))
            continue
        token = resolver.resolve_into(entry.token, file.parent, file, f"{where}.token", found)
        if token is not None:
            held = resolver.file_of(entry.token, base_dir=file.parent)
            accounts.append(
                AccountConfig(entry.id, entry.app, token, entry.label, held, entry.followers)
            )
    if registry is not None and registry.path is not None:
        try:
            accounts.extend(_registry_accounts(file, registry.path, app_names, resolver, origin))
        except ConfigError as exc:  # the CSV stops at its first mistake
            found.extend(exc.problems)
    if not accounts and len(found) == before and None not in entries:
        found.append(
            Problem(
                file,
                "[[accounts]]",
                "no accounts at all",
                "add [[accounts]] tables or a [registry] path to a CSV with rows",
            )
        )
    return tuple(accounts)


def _registry_accounts(
    file: Path,
    written: str,
    app_names: Sequence[str],
    resolver: SecretResolver,
    origin: dict[str, str],
) -> Iterator[AccountConfig]:
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = file.parent / path
    if not path.is_file():
        raise ConfigError(
            file, "[registry].path", f"registry file {path} does not exist", "fix the path"
        )
    for row in read_registry(path):
        if row.id in origin:
            first = origin[row.id]
            if not first.startswith("registry"):
                first = f"{file}: {first}"
            raise ConfigError(
                path, row.where, f"account {row.id} is listed twice (also {first})", "remove one"
            )
        origin[row.id] = row.where
        if row.app not in app_names:
            raise ConfigError(path, row.where, *_unknown_app(row.app, app_names))
        found: list[Problem] = []
        token = resolver.resolve_into(row.token, path.parent, path, f"{row.where} token", found)
        if token is None:
            raise ConfigError.of(found)
        held = resolver.file_of(row.token, base_dir=path.parent)
        yield AccountConfig(row.id, row.app, token, row.label, held, row.followers)


def _unknown_app(app: str, app_names: Sequence[str]) -> tuple[str, str]:
    guess = closest(app, app_names)
    problem = f'names app "{app}", which is not in [[apps]] ({", ".join(app_names)})'
    return problem, f'use "{guess}"' if guess else "add that app to [[apps]]"
