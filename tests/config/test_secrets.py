"""Secret references: env:, file: and literals resolve; failures never show a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config.secrets import SecretError, SecretKind, SecretResolver, parse_reference

VALUE = "EAAtopSecretValue"


def resolve(text: str, base_dir: Path, environ: dict[str, str] | None = None) -> str:
    return SecretResolver(environ or {}).resolve(text, base_dir=base_dir)


def failure(text: str, base_dir: Path, environ: dict[str, str] | None = None) -> str:
    """The message of the SecretError raised for ``text``, checked to hide the value."""
    with pytest.raises(SecretError) as caught:
        resolve(text, base_dir, environ)
    assert VALUE not in str(caught.value)
    return str(caught.value)


def test_env_reference_reads_the_variable(tmp_path: Path) -> None:
    """env:NAME gives the variable's value, stripped of surrounding whitespace."""
    assert resolve("env:IG_TOKEN", tmp_path, {"IG_TOKEN": f" {VALUE}\n"}) == VALUE


def test_unset_variable_is_named(tmp_path: Path) -> None:
    """An unset variable is named in the error."""
    assert "environment variable IG_TOKEN is not set" in failure("env:IG_TOKEN", tmp_path)


def test_empty_variable_is_refused(tmp_path: Path) -> None:
    """A variable set to blanks is refused."""
    assert "is set but empty" in failure("env:IG_TOKEN", tmp_path, {"IG_TOKEN": "  "})


def test_env_without_a_valid_name_is_refused(tmp_path: Path) -> None:
    """env: followed by something that is not a variable name is refused."""
    assert "env: must be followed by" in failure("env:1-bad", tmp_path)


def test_file_reference_is_relative_to_base_dir(tmp_path: Path) -> None:
    """file:PATH reads PATH from base_dir and drops the trailing newline."""
    (tmp_path / "tok.txt").write_text(VALUE + "\n", encoding="utf-8")
    assert resolve("file:tok.txt", tmp_path) == VALUE


def test_absolute_file_reference(tmp_path: Path) -> None:
    """An absolute file: path ignores base_dir."""
    (tmp_path / "tok.txt").write_text(VALUE, encoding="utf-8")
    assert resolve(f"file:{tmp_path / 'tok.txt'}", Path("/nonexistent")) == VALUE


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A missing secret file is named by its full path."""
    assert f"secret file {tmp_path / 'nope.txt'} does not exist" in failure(
        "file:nope.txt", tmp_path
    )


def test_empty_file_is_refused(tmp_path: Path) -> None:
    """A secret file holding only whitespace is refused."""
    (tmp_path / "tok.txt").write_text(" \n", encoding="utf-8")
    assert "is empty" in failure("file:tok.txt", tmp_path)


def test_multi_line_file_is_refused_without_echo(tmp_path: Path) -> None:
    """A file with two lines is refused and neither line appears in the error."""
    (tmp_path / "tok.txt").write_text(f"{VALUE}\nsecond-{VALUE}\n", encoding="utf-8")
    assert "holds more than one line" in failure("file:tok.txt", tmp_path)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    """A secret file bigger than 16 KiB is refused as the wrong file."""
    (tmp_path / "big.txt").write_text(VALUE * 2000, encoding="utf-8")
    assert "a secret file holds one token" in failure("file:big.txt", tmp_path)


def test_file_is_read_once_per_resolver(tmp_path: Path) -> None:
    """A file named twice is read once: the second resolve works after the file is gone."""
    (tmp_path / "tok.txt").write_text(VALUE, encoding="utf-8")
    resolver = SecretResolver({})
    assert resolver.resolve("file:tok.txt", base_dir=tmp_path) == VALUE
    (tmp_path / "tok.txt").unlink()
    assert resolver.resolve("file:tok.txt", base_dir=tmp_path) == VALUE


def test_literal_is_used_and_counted(tmp_path: Path) -> None:
    """A literal secret resolves to itself and raises the resolver's literal count."""
    resolver = SecretResolver({"T": "x"})
    assert resolver.resolve(VALUE, base_dir=tmp_path) == VALUE
    resolver.resolve("env:T", base_dir=tmp_path)
    resolver.resolve(VALUE + "2", base_dir=tmp_path)
    assert resolver.literal_count == 2


def test_unknown_scheme_is_refused_naming_only_the_scheme(tmp_path: Path) -> None:
    """vault:... is refused, naming the scheme but not what follows it."""
    message = failure(f"vault:{VALUE}", tmp_path)
    assert "unknown secret reference scheme 'vault':" in message


def test_secret_with_inner_whitespace_is_refused(tmp_path: Path) -> None:
    """A value with a space inside is refused (it would corrupt an HTTP header)."""
    assert "contains whitespace inside" in failure("env:T", tmp_path, {"T": f"{VALUE} {VALUE}"})


def test_empty_reference_is_refused(tmp_path: Path) -> None:
    """An empty secret text is refused."""
    assert "the secret is empty" in failure("  ", tmp_path)


def test_prefixes_are_case_insensitive() -> None:
    """ENV:NAME and File:PATH are read as references, not literals."""
    assert parse_reference("ENV:IG_TOKEN").kind is SecretKind.ENV
    assert parse_reference("File:t.txt").kind is SecretKind.FILE


def test_reference_repr_hides_a_literal() -> None:
    """The repr of a parsed literal reference does not show the secret."""
    assert VALUE not in repr(parse_reference(VALUE))
