"""The CSV account registry: exact header, row checks, streaming, merge with [[accounts]]."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collector.config.load import ConfigError, load_config
from collector.config.registry import read_registry

CONFIG = """
[graph]
api_version = "v17.0"

[registry]
path = "accounts.csv"

[[apps]]
name = "agency-a"
app_id = "1001"
calls_per_hour = 4800

[[apps]]
name = "agency-b"
app_id = "1002"
calls_per_hour = 4800
"""
TOML_ACCOUNT = """
[[accounts]]
id = "1"
app = "agency-a"
token = "env:T"
label = "from toml"
"""
TOKEN = "EAAregistryToken"
ENV = {"T": TOKEN}


def write_csv(tmp_path: Path, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def csv_error(tmp_path: Path, text: str) -> str:
    """The error reading ``text`` as a registry; checked to name the file and hide tokens."""
    path = write_csv(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        list(read_registry(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert TOKEN not in message
    return message


def test_rows_are_read_in_order_with_positions(tmp_path: Path) -> None:
    """Each row carries its data-row number and line, skipping blank lines."""
    path = write_csv(tmp_path, "id,app,token,label\n11,agency-a,env:T,A\n\n22,agency-b,env:T,\n")
    rows = list(read_registry(path))
    assert [(r.row, r.line, r.id, r.app, r.token, r.label) for r in rows] == [
        (1, 2, "11", "agency-a", "env:T", "A"),
        (2, 4, "22", "agency-b", "env:T", ""),
    ]


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    """A UTF-8 BOM before the header does not make an unknown column."""
    path = write_csv(tmp_path, "id,app,token,label\n11,agency-a,env:T,A\n", bom=True)
    assert [r.id for r in read_registry(path)] == ["11"]


def test_columns_may_come_in_any_order(tmp_path: Path) -> None:
    """A header with the four columns reordered maps each field by name."""
    path = write_csv(tmp_path, "label,token,id,app\nAcme,env:T,11,agency-a\n")
    row = next(read_registry(path))
    assert (row.id, row.app, row.token, row.label) == ("11", "agency-a", "env:T", "Acme")


def test_quoted_label_with_comma(tmp_path: Path) -> None:
    """A quoted label may hold a comma."""
    path = write_csv(tmp_path, 'id,app,token,label\n11,agency-a,env:T,"Acme, Inc"\n')
    assert next(read_registry(path)).label == "Acme, Inc"


def test_extra_column_is_named(tmp_path: Path) -> None:
    """A header with an extra column names it and lists the allowed ones."""
    message = csv_error(tmp_path, "id,app,token,label,notes\n11,agency-a,env:T,A,x\n")
    assert (
        "header (line 1): unknown column(s) notes (allowed: id, app, token, label, followers)"
        in message
    )


def test_misspelt_column_gets_a_rename_hint(tmp_path: Path) -> None:
    """A misspelt column name is answered with the column it resembles."""
    message = csv_error(tmp_path, "id,app,tokn,label\n")
    assert 'fix: rename "tokn" -> "token"' in message


def test_missing_column_is_named(tmp_path: Path) -> None:
    """A header without label names the missing column."""
    message = csv_error(tmp_path, "id,app,token\n11,agency-a,env:T\n")
    assert "header (line 1): missing column(s) label" in message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    """An empty registry file asks for the header."""
    assert "line 1: the file is empty" in csv_error(tmp_path, "")


def test_row_with_missing_field(tmp_path: Path) -> None:
    """A row with three fields is located by row and line."""
    message = csv_error(tmp_path, "id,app,token,label\n11,agency-a,env:T,A\n12,agency-a,env:T\n")
    assert (
        "registry row 2 (line 3): missing column(s): 3 field(s) where the header has 4" in message
    )


def test_row_with_empty_id(tmp_path: Path) -> None:
    """A row with an empty id is refused."""
    assert "registry row 1 (line 2): empty id" in csv_error(
        tmp_path, "id,app,token,label\n,agency-a,env:T,A\n"
    )


def test_row_with_non_numeric_id_does_not_echo_it(tmp_path: Path) -> None:
    """A non-numeric id is refused without quoting the field (it may be a shifted token)."""
    message = csv_error(tmp_path, f"id,app,token,label\n{TOKEN},agency-a,env:T,A\n")
    assert "registry row 1 (line 2): id is not numeric" in message


def test_row_with_empty_token(tmp_path: Path) -> None:
    """A row without a token is refused."""
    assert "registry row 1 (line 2): empty token" in csv_error(
        tmp_path, "id,app,token,label\n11,agency-a,,A\n"
    )


def test_duplicate_id_inside_the_csv_names_both_rows(tmp_path: Path) -> None:
    """The same id on two CSV rows names the first row in the error for the second."""
    write_csv(tmp_path, "id,app,token,label\n11,agency-a,env:T,\n11,agency-b,env:T,\n")
    (tmp_path / "ig.toml").write_text(CONFIG, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "ig.toml", environ=ENV)
    assert str(caught.value).startswith(
        f"{tmp_path / 'accounts.csv'}: registry row 2 (line 3): account 11 is listed twice "
        "(also registry row 1 (line 2))"
    )


def test_registry_row_naming_an_unknown_app(tmp_path: Path) -> None:
    """A CSV row whose app is not configured is located by its row."""
    write_csv(tmp_path, "id,app,token,label\n11,agency-c,env:T,\n")
    (tmp_path / "ig.toml").write_text(CONFIG, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"registry row 1 \(line 2\): names app \"agency-c\""):
        load_config(tmp_path / "ig.toml", environ=ENV)


def test_registry_token_with_unset_variable(tmp_path: Path) -> None:
    """A CSV token naming an unset variable is located by row and names the variable."""
    write_csv(tmp_path, "id,app,token,label\n11,agency-a,env:MISSING_T,\n")
    (tmp_path / "ig.toml").write_text(CONFIG, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "ig.toml", environ=ENV)
    assert "registry row 1 (line 2) token: environment variable MISSING_T is not set" in str(
        caught.value
    )


def test_registry_file_token_is_relative_to_the_csv(tmp_path: Path) -> None:
    """A file: token in the CSV is read from the CSV's own folder."""
    folder = tmp_path / "reg"
    folder.mkdir()
    (folder / "t.txt").write_text("EAAfileToken\n", encoding="utf-8")
    (folder / "accounts.csv").write_text("id,app,token,label\n11,agency-a,file:t.txt,\n")
    (tmp_path / "ig.toml").write_text(
        CONFIG.replace('"accounts.csv"', '"reg/accounts.csv"'), encoding="utf-8"
    )
    config = load_config(tmp_path / "ig.toml", environ=ENV)
    assert config.accounts[0].token == "EAAfileToken"


def test_five_thousand_rows_load_quickly_and_merge(tmp_path: Path) -> None:
    """5,000 CSV rows load in well under two seconds, after the [[accounts]] entries."""
    lines = ["id,app,token,label"]
    lines += [f"{10_000 + n},agency-{'ab'[n % 2]},env:T,acct {n}" for n in range(5000)]
    write_csv(tmp_path, "\n".join(lines) + "\n")
    (tmp_path / "ig.toml").write_text(CONFIG + TOML_ACCOUNT, encoding="utf-8")
    started = time.perf_counter()
    config = load_config(tmp_path / "ig.toml", environ=ENV)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    assert len(config.accounts) == 5001
    assert (config.accounts[0].id, config.accounts[0].label) == ("1", "from toml")
    assert [a.id for a in config.accounts[1:4]] == ["10000", "10001", "10002"]
    assert [a.app for a in config.accounts[1:3]] == ["agency-a", "agency-b"]
    assert config.accounts[-1].id == "14999"
    assert all(a.token == TOKEN for a in config.accounts)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            'id,app,token,label\n11,agency-a,env:T,"Three\n22,agency-b,env:T,B\n',
            2,
            "does not close",
        ),
        ('id,app,token,label\n11,agency-a,env:T,Thr"ee\n', 2, "stray quote"),
        ('id,app,token,label\n11,agency-a,env:T,"Two\nlines"\n', 2, "does not close"),
        ('id,app,token,label\n11,agency-a,env:T,A\n22,agency-b,env:T,"B"x\n', 3, "after a closing"),
    ],
    ids=["unterminated-quote", "stray-quote", "row-spans-lines", "text-after-quote"],
)
def test_malformed_csv_names_its_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    """A quote that does not close, a stray quote or a row spanning lines is refused at its line."""
    message = csv_error(tmp_path, text)
    assert f": line {line}: malformed CSV: " in message
    assert problem in message


def test_doubled_quote_inside_quotes_is_one_quote(tmp_path: Path) -> None:
    """RFC 4180 escaping still works: "" inside a quoted field reads as one quote."""
    path = write_csv(tmp_path, 'id,app,token,label\n11,agency-a,env:T,"say ""hi"", ok"\n')
    assert [row.label for row in read_registry(path)] == ['say "hi", ok']
