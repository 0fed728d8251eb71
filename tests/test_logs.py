"""Unit tests for collector.logs: the Redactor and the structlog configuration."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import structlog
from structlog.testing import capture_logs

from collector import logs
from collector.logs import REDACTED, Redactor, configure

TOKEN = "IGQWRtestTOKEN42abc"
SECRET = "0a1b2c3d4e5f60718293"


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """Leave structlog as it was found, whatever a test configured."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


# -- registered secrets ----------------------------------------------------------------------


def test_registered_secret_is_replaced() -> None:
    """A registered token anywhere in a text is replaced by the marker."""
    assert Redactor([TOKEN]).clean(f"token {TOKEN} rejected") == f"token {REDACTED} rejected"


def test_every_occurrence_is_replaced() -> None:
    """A secret repeated in one text is replaced each time."""
    assert TOKEN not in Redactor([TOKEN]).clean(f"{TOKEN} and {TOKEN}")


def test_secret_with_odd_characters_is_replaced() -> None:
    """A secret holding characters outside a word (spaces, punctuation) is still removed."""
    odd = "p@ss w0rd/+=!"
    assert Redactor([odd]).clean(f"secret is {odd}; done") == f"secret is {REDACTED}; done"


@pytest.mark.parametrize(
    "text",
    [
        f"app token 123456789|{SECRET}",
        f"the token was {TOKEN}.",
        f"{TOKEN}-suffix",
        f"x{TOKEN}x",
        f"_{TOKEN}_",
    ],
)
def test_secret_glued_to_word_characters_is_replaced(text: str) -> None:
    """A secret inside a longer word ("<app id>|<secret>", a trailing ".") is still removed."""
    cleaned = Redactor([TOKEN, SECRET]).clean(text)
    assert TOKEN not in cleaned and SECRET not in cleaned
    assert REDACTED in cleaned


def test_overlapping_secrets_are_both_removed() -> None:
    """When one secret contains another, neither survives."""
    inner = "abcdef1234"
    outer = "zz" + inner + "yy"
    cleaned = Redactor([inner, outer]).clean(f"{outer} {inner} q{inner}")
    assert inner not in cleaned


def test_secrets_added_later_are_replaced() -> None:
    """add registers secrets after construction."""
    redactor = Redactor()
    redactor.add([TOKEN])
    assert redactor.clean(TOKEN) == REDACTED


def test_very_short_secrets_are_not_registered() -> None:
    """Secrets under 4 characters are ignored, so ordinary words are not blanked."""
    assert Redactor(["abc", ""]).clean("abc abcd") == "abc abcd"


def test_text_without_secrets_is_unchanged() -> None:
    """Ordinary text (ids, dates, metrics) passes through untouched."""
    text = "window_done account=17841400000000001 window=2024-01-01..2024-01-30 metrics=reach,views"
    assert Redactor([TOKEN, SECRET]).clean(text) == text


# -- credential-shaped text -----------------------------------------------------------------


@pytest.mark.parametrize(
    "param", ["access_token", "appsecret_proof", "client_secret", "input_token"]
)
def test_credential_parameters_are_blanked_in_urls(param: str) -> None:
    """``<param>=value`` loses its value and the rest of the URL stays readable."""
    url = f"https://graph.facebook.com/v22.0/1/insights?metric=reach&{param}=abc.DEF-123&period=day"
    assert Redactor().clean(url) == (
        f"https://graph.facebook.com/v22.0/1/insights?metric=reach&{param}={REDACTED}&period=day"
    )


@pytest.mark.parametrize("scheme", ["Bearer", "OAuth"])
def test_authorization_values_are_blanked(scheme: str) -> None:
    """``Bearer x`` and ``OAuth x`` keep the scheme and lose the credential."""
    cleaned = Redactor().clean(f"Authorization: {scheme} unregistered-credential-xyz")
    assert cleaned == f"Authorization: {scheme} {REDACTED}"


def test_meta_token_prefix_is_blanked_even_unregistered() -> None:
    """A Meta-shaped token (``EAA`` + letters/digits) is removed without being registered."""
    cleaned = Redactor().clean("used EAABsbCS1iHgBAKZCZBZCz2ZA4ZD today")
    assert cleaned == f"used {REDACTED} today"


def test_short_eaa_words_are_not_tokens() -> None:
    """``EAA`` followed by fewer than 8 characters is an ordinary word."""
    assert Redactor().clean("EAAB1") == "EAAB1"


def test_metas_words_about_tokens_are_not_secrets() -> None:
    """Meta's prose stays readable; only the token it may quote goes."""
    message = "Invalid OAuth access token - Cannot parse access token"
    assert Redactor([TOKEN]).clean(message) == message
    assert Redactor([TOKEN]).clean(f"{message}: {TOKEN}") == f"{message}: {REDACTED}"


# -- the processor -----------------------------------------------------------------------------


def test_processor_cleans_nested_values() -> None:
    """Dicts, lists and tuples inside an event are cleaned at every depth."""
    event = {
        "event": "request_failed",
        "detail": {"url": f"x?access_token={TOKEN}", "tokens": [TOKEN, ("ok", TOKEN)]},
        "count": 3,
    }
    out = Redactor([TOKEN])(None, "info", event)
    assert out == {
        "event": "request_failed",
        "detail": {"url": f"x?access_token={REDACTED}", "tokens": [REDACTED, ("ok", REDACTED)]},
        "count": 3,
    }


def test_processor_renders_and_cleans_exceptions() -> None:
    """An exception value becomes ``Type: message`` text without the secret."""
    out = Redactor([TOKEN])(None, "error", {"error": RuntimeError(f"bad token {TOKEN}")})
    assert out["error"] == f"RuntimeError: bad token {REDACTED}"


def test_processor_renders_other_objects_as_cleaned_text() -> None:
    """A dataclass holding a token reaches the renderer as text without the token."""

    @dataclasses.dataclass
    class Holder:
        account: str
        token: str = dataclasses.field(repr=False)
        note: str = ""

    out = Redactor([TOKEN])(None, "info", {"run": Holder("42", TOKEN, note=TOKEN)})
    assert isinstance(out["run"], str)
    assert TOKEN not in out["run"] and "42" in out["run"]


def test_processor_accepts_named_tuples() -> None:
    """A NamedTuple value is cleaned like a tuple instead of crashing the logger."""

    class Pair(NamedTuple):
        name: str
        secret: str

    out = Redactor([TOKEN])(None, "info", {"pair": Pair("x", TOKEN)})
    assert out["pair"] == ("x", REDACTED)


def test_processor_keeps_numbers_and_none() -> None:
    """Numbers, booleans and None are passed on as they are, for the renderer to type."""
    event = {"count": 3, "ratio": 0.5, "ok": True, "stopped": None}
    assert Redactor([TOKEN])(None, "info", dict(event)) == event


def test_processor_cleans_event_fields_through_structlog() -> None:
    """Run as a structlog processor, it removes the secret from what is captured."""
    with capture_logs(processors=[Redactor([TOKEN])]) as captured:
        structlog.get_logger().warning("token_rejected", token=TOKEN, note=f"Bearer {TOKEN}")
    assert captured == [
        {
            "event": "token_rejected",
            "token": REDACTED,
            "note": f"Bearer {REDACTED}",
            "log_level": "warning",
        }
    ]


# -- configure ---------------------------------------------------------------------------------


@pytest.fixture
def redactor(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    """A fresh module-level redactor, so no test leaves secrets registered globally."""
    fresh = Redactor([TOKEN])
    monkeypatch.setattr(logs, "REDACTOR", fresh)
    return fresh


def test_json_lines_are_rendered_through_the_redactor(redactor: Redactor) -> None:
    """configure(fmt="json") writes one JSON object per event, with secrets replaced."""
    out = io.StringIO()
    configure(fmt="json", stream=out)
    structlog.get_logger().info("window_done", account="1", url=f"/x?access_token={TOKEN}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "window_done"
    assert record["level"] == "info"
    assert record["url"] == f"/x?access_token={REDACTED}"
    assert "timestamp" in record
    assert TOKEN not in out.getvalue()


def test_exception_tracebacks_are_redacted(redactor: Redactor) -> None:
    """A logged exception's traceback text is rendered and cleaned before output."""
    out = io.StringIO()
    configure(fmt="json", stream=out)
    try:
        raise ValueError(f"token {TOKEN} refused")
    except ValueError:
        structlog.get_logger().exception("pull_failed")
    record = json.loads(out.getvalue())
    assert "ValueError" in record["exception"]
    assert TOKEN not in out.getvalue()


def test_bound_context_is_merged_and_redacted(redactor: Redactor) -> None:
    """Contextvars bound around a call appear in the event, and are cleaned too."""
    out = io.StringIO()
    configure(fmt="json", stream=out)
    with structlog.contextvars.bound_contextvars(account="42", app="main", note=TOKEN):
        structlog.get_logger().info("request_done")
    record = json.loads(out.getvalue())
    assert (record["account"], record["app"], record["note"]) == ("42", "main", REDACTED)


def test_level_filters_lower_events(redactor: Redactor) -> None:
    """At level "warning", info events are not written."""
    out = io.StringIO()
    configure(fmt="json", level="warning", stream=out)
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["loud"]


def test_console_format_is_redacted_too(redactor: Redactor) -> None:
    """configure(fmt="console") prints readable text, still without the secret."""
    out = io.StringIO()
    configure(fmt="console", stream=out)
    structlog.get_logger().info("token_used", token=TOKEN)
    text = out.getvalue()
    assert "token_used" in text and REDACTED in text and TOKEN not in text


def test_auto_format_on_a_non_terminal_is_json(redactor: Redactor) -> None:
    """fmt="auto" writes JSON lines when the stream is not a terminal."""
    out = io.StringIO()
    configure(fmt="auto", stream=out)
    structlog.get_logger().info("run_started")
    assert json.loads(out.getvalue())["event"] == "run_started"
