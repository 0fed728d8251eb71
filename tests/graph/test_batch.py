"""Batch mode (SPEC 7): BatchingTransport against the real emulator, and its flushing rules."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from collector.clock import ManualClock
from collector.config.load import ConfigError, load_config
from collector.emulator.calllog import Route
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import FaultSettings, Scenario
from collector.emulator.testing import RunningEmulator, running_emulator
from collector.emulator.truth import truth_values
from collector.errors import BadResponse, ConnectionFailed, TokenInvalid, TransportError
from collector.graph.batch import BatchingTransport, BatchItemDropped
from collector.graph.transport import (
    GraphRequest,
    GraphResponse,
    HttpTransport,
    appsecret_proof,
    checked_body,
)
from tests.e2e.helpers import NOW, small_scenario, write_config

LA = ZoneInfo("America/Los_Angeles")
VERSION = "v17.0"
# End_time dates 2025-11-10..2025-11-19, edges at Pacific noon (the collector's rule).
SINCE = int(dt.datetime(2025, 11, 9, 12, tzinfo=LA).timestamp())
UNTIL = int(dt.datetime(2025, 11, 19, 12, tzinfo=LA).timestamp())
SCENARIO = small_scenario()
SECRETS = {app.name: app.app_secret for app in SCENARIO.apps}
BAD_TOKEN = "EAAbogus-token-0000"


def request(account_index: int, metric: str = "reach", *, token: str | None = None) -> GraphRequest:
    """The GraphRequest the pool would build for one account of the small scenario."""
    account = SCENARIO.accounts[account_index]
    params = (("metric", metric), ("period", "day"), ("since", str(SINCE)), ("until", str(UNTIL)))
    return GraphRequest(
        f"{account.id}/insights", params, token or account.token, SECRETS[account.app]
    )


def truth(account_index: int, metric: str) -> list[dict[str, Any]]:
    return truth_values(
        SCENARIO,
        account_id=SCENARIO.accounts[account_index].id,
        metric=metric,
        period="day",
        since=SINCE,
        until=UNTIL,
        now=NOW.timestamp(),
    )


def with_faults(**faults: Any) -> Scenario:
    return dataclasses.replace(SCENARIO, faults=FaultSettings(**faults))


class RecordingPoster:
    """Passes POSTs to the real client and records each one's path and item count."""

    def __init__(self, inner: HttpTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []
        self.sizes: list[int] = []

    async def post_form(self, path: str, form: Mapping[str, str]) -> GraphResponse:
        self.paths.append(path)
        self.sizes.append(len(orjson.loads(form["batch"])))
        return await self.inner.post_form(path, form)


class ScriptedPoster:
    """No network: answers each POST with ``answer(items)``; records the forms sent."""

    def __init__(self, answer: Callable[[list[dict[str, str]]], Awaitable[GraphResponse]]) -> None:
        self.answer = answer
        self.forms: list[dict[str, str]] = []

    async def post_form(self, path: str, form: Mapping[str, str]) -> GraphResponse:
        self.forms.append(dict(form))
        return await self.answer(orjson.loads(form["batch"]))


def ok_item(index: int) -> dict[str, Any]:
    return {"code": 200, "headers": [], "body": orjson.dumps({"data": [], "n": index}).decode()}


@asynccontextmanager
async def batching(
    scenario: Scenario = SCENARIO, **options: Any
) -> AsyncIterator[tuple[BatchingTransport, RecordingPoster, RunningEmulator]]:
    async with (
        running_emulator(scenario, clock=FixedClock(NOW.timestamp())) as emu,
        HttpTransport(emu.base_url, VERSION, timeout_s=5) as http,
    ):
        poster = RecordingPoster(http)
        async with BatchingTransport(poster, **options) as transport:
            yield transport, poster, emu


async def send_all(
    transport: BatchingTransport, requests: list[GraphRequest]
) -> list[GraphResponse | BaseException]:
    return await asyncio.gather(*(transport.send(r) for r in requests), return_exceptions=True)


async def settle() -> None:
    """Let every ready task run (no clock moves)."""
    for _ in range(5):
        await asyncio.sleep(0)


# --- against the emulator ----------------------------------------------------------


async def test_batched_answers_equal_single_answers() -> None:
    """Each batched request gets the status and body the same request gets on its own."""
    requests = [request(i, m) for i in range(5) for m in ("reach", "follower_count")]
    async with (
        running_emulator(SCENARIO, clock=FixedClock(NOW.timestamp())) as emu,
        HttpTransport(emu.base_url, VERSION, timeout_s=5) as http,
    ):
        singles = [await http.send(r) for r in requests]
        async with BatchingTransport(http, batch_size=50) as transport:
            batched = await asyncio.gather(*(transport.send(r) for r in requests))
    assert [(b.status, b.body) for b in batched] == [(s.status, s.body) for s in singles]


async def test_batched_values_match_the_ground_truth() -> None:
    """A batched answer carries the emulator's ground-truth values for its own account."""
    async with batching(batch_size=50) as (transport, _, _):
        answers = await asyncio.gather(*(transport.send(request(i)) for i in (0, 3, 4)))
    got = [checked_body(a)["data"][0]["values"] for a in answers]
    assert got == [truth(0, "reach"), truth(3, "reach"), truth(4, "reach")]


async def test_each_item_carries_its_own_usage_headers() -> None:
    """Every batched response has the usage headers its item listed."""
    async with batching(batch_size=50) as (transport, _, _):
        answers = await asyncio.gather(*(transport.send(request(i)) for i in (0, 3)))
    for answer in answers:
        assert answer.app_usage is not None
        assert "call_count" in orjson.loads(answer.app_usage)
        assert answer.buc_usage is not None


async def test_an_item_signed_for_a_proof_requiring_app_passes_when_not_first() -> None:
    """An app-b item (proof required) behind an app-a item is served: it carries its own proof."""
    async with batching(batch_size=50) as (transport, _, _):
        first, second = await asyncio.gather(transport.send(request(0)), transport.send(request(3)))
    assert (first.status, second.status) == (200, 200)
    assert checked_body(second)["data"][0]["values"] == truth(3, "reach")


async def test_120_requests_go_out_as_three_posts() -> None:
    """120 requests with batch_size 50 make POSTs of 50, 50 and 20 items, 120 item calls."""
    requests = [request(i % 5) for i in range(120)]
    async with batching(batch_size=50) as (transport, poster, emu):
        answers = await asyncio.gather(*(transport.send(r) for r in requests))
        items = emu.calls.select(route=Route.BATCH_ITEM)
    assert sorted(poster.sizes) == [20, 50, 50]
    assert len(items) == 120
    assert all(a.status == 200 for a in answers)


async def test_a_bad_token_fails_only_its_own_item() -> None:
    """An item with an unknown token gets code 190; the items around it get their data."""
    requests = [request(0), request(1, token=BAD_TOKEN), request(3)]
    async with batching(batch_size=50) as (transport, _, _):
        answers = await asyncio.gather(*(transport.send(r) for r in requests))
    with pytest.raises(TokenInvalid):
        checked_body(answers[1])
    assert checked_body(answers[0])["data"][0]["values"] == truth(0, "reach")
    assert checked_body(answers[2])["data"][0]["values"] == truth(3, "reach")


async def test_null_items_are_sent_again_until_answered() -> None:
    """With batch_null_rate 0.3 every request still ends with its ground-truth data."""
    requests = [request(i % 5) for i in range(40)]
    async with batching(with_faults(batch_null_rate=0.3), batch_size=50, max_tries=10) as (
        transport,
        poster,
        emu,
    ):
        answers = await asyncio.gather(*(transport.send(r) for r in requests))
        nulls = emu.calls.select(route=Route.BATCH_ITEM, fault="batch_null")
    assert [checked_body(a)["data"][0]["values"] for a in answers] == [
        truth(i % 5, "reach") for i in range(40)
    ]
    assert nulls, "the scenario should have answered some items null"
    assert transport.stats.null_items == len(nulls)
    assert sum(poster.sizes) == 40 + len(nulls)


async def test_an_item_never_answered_fails_after_max_tries() -> None:
    """An item answered null in every POST fails with BatchItemDropped after max_tries POSTs."""
    async with batching(with_faults(batch_null_rate=1.0), batch_size=50, max_tries=3) as (
        transport,
        poster,
        emu,
    ):
        with pytest.raises(BatchItemDropped):
            await transport.send(request(0))
        items = emu.calls.select(route=Route.BATCH_ITEM)
    assert len(items) == 3
    assert poster.sizes == [1, 1, 1]


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("html_502", BadResponse),
        ("truncated_json", BadResponse),
        ("drop_mid_body", ConnectionFailed),
    ],
)
async def test_a_transport_fault_fails_every_request_of_the_post(
    kind: str, error: type[TransportError]
) -> None:
    """A POST answered with a transport fault fails each of its requests with a TransportError."""
    async with batching(batch_size=3) as (transport, _, emu):
        emu.state.faults.inject(kind)
        results = await send_all(transport, [request(0), request(1), request(3)])
    assert [type(r) for r in results] == [error, error, error]


async def test_the_transport_works_again_after_a_failed_post() -> None:
    """After a POST hit by an html_502, the next POST is served normally."""
    async with batching(batch_size=2) as (transport, _, emu):
        emu.state.faults.inject("html_502")
        failed = await send_all(transport, [request(0), request(1)])
        again = await send_all(transport, [request(0), request(1)])
    assert all(isinstance(r, BadResponse) for r in failed)
    assert [r.status for r in again if isinstance(r, GraphResponse)] == [200, 200]


async def test_no_secret_appears_in_any_exception_text() -> None:
    """Errors from faulty POSTs and dropped items never quote a token, secret or proof."""
    tokens = [a.token for a in SCENARIO.accounts] + [BAD_TOKEN]
    proofs = [appsecret_proof(t, s) for t in tokens for s in SECRETS.values()]
    secrets = tokens + list(SECRETS.values()) + proofs
    requests = [request(0), request(3), request(1, token=BAD_TOKEN)]
    errors: list[BaseException] = []
    for kind in ("html_502", "truncated_json", "drop_mid_body"):
        async with batching(batch_size=3) as (transport, _, emu):
            emu.state.faults.inject(kind)
            errors += [r for r in await send_all(transport, requests) if isinstance(r, Exception)]
    async with batching(with_faults(batch_null_rate=1.0), max_tries=1) as (transport, _, _):
        errors += [r for r in await send_all(transport, requests) if isinstance(r, Exception)]
    # 3 faulty POSTs x 3 requests, and 2 dropped items (the bad token's item is refused, not null)
    assert len(errors) == 11
    texts = " ".join(f"{e} {e!r} {e.args!r}" for e in errors)
    for secret in secrets:
        assert secret not in texts


async def test_tokens_travel_in_the_post_body_only() -> None:
    """The POST's path carries no credential; each item's relative_url carries its own token."""
    seen: list[dict[str, str]] = []

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        seen.extend(items)
        return GraphResponse(200, [ok_item(i) for i in range(len(items))])

    poster = ScriptedPoster(answer)
    async with BatchingTransport(poster, batch_size=2) as transport:
        await send_all(transport, [request(0), request(3)])
    assert poster.forms[0]["access_token"] == SCENARIO.accounts[0].token
    assert SCENARIO.accounts[0].token in seen[0]["relative_url"]
    assert SCENARIO.accounts[3].token in seen[1]["relative_url"]
    assert "appsecret_proof=" in seen[1]["relative_url"]
    assert poster.forms[0]["include_headers"] == "true"


# --- flushing and whole-POST answers, without a network ------------------------------


async def test_a_partial_group_waits_for_the_linger_on_the_injected_clock() -> None:
    """Fewer than batch_size requests leave as one POST only once linger_s has passed."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        return GraphResponse(200, [ok_item(i) for i in range(len(items))])

    clock = ManualClock(NOW)
    poster = ScriptedPoster(answer)
    transport = BatchingTransport(poster, batch_size=10, linger_s=0.005, clock=clock)
    sends = [asyncio.ensure_future(transport.send(request(i))) for i in range(3)]
    await settle()
    assert poster.forms == []
    clock.advance(0.005)
    await settle()
    assert [len(orjson.loads(f["batch"])) for f in poster.forms] == [3]
    assert [r.body["n"] for r in await asyncio.gather(*sends)] == [0, 1, 2]


async def test_a_full_group_leaves_without_waiting() -> None:
    """A group that reaches batch_size is posted at once, with the clock standing still."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        return GraphResponse(200, [ok_item(i) for i in range(len(items))])

    poster = ScriptedPoster(answer)
    transport = BatchingTransport(poster, batch_size=4, clock=ManualClock(NOW))
    answers = await asyncio.gather(*(transport.send(request(i % 5)) for i in range(8)))
    assert [len(orjson.loads(f["batch"])) for f in poster.forms] == [4, 4]
    assert len(answers) == 8


async def test_close_sends_what_is_still_queued() -> None:
    """close() posts a lingering partial group at once and waits for its answer."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        return GraphResponse(200, [ok_item(i) for i in range(len(items))])

    poster = ScriptedPoster(answer)
    transport = BatchingTransport(poster, batch_size=10, clock=ManualClock(NOW))
    sends = [asyncio.ensure_future(transport.send(request(i))) for i in range(2)]
    await settle()
    await transport.close()
    assert all(s.done() and s.result().status == 200 for s in sends)


async def test_a_cancelled_send_leaves_the_queue() -> None:
    """A request whose caller gave up before its POST left is not sent."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        return GraphResponse(200, [ok_item(i) for i in range(len(items))])

    clock = ManualClock(NOW)
    poster = ScriptedPoster(answer)
    transport = BatchingTransport(poster, batch_size=10, linger_s=0.005, clock=clock)
    gone = asyncio.ensure_future(transport.send(request(0)))
    kept = asyncio.ensure_future(transport.send(request(1)))
    await settle()
    gone.cancel()
    await settle()
    clock.advance(0.005)
    await kept
    items = orjson.loads(poster.forms[0]["batch"])
    assert len(items) == 1
    assert SCENARIO.accounts[1].id in items[0]["relative_url"]


async def test_a_post_refused_whole_answers_the_first_and_resends_the_rest() -> None:
    """A batch-level error goes to the request whose token signed the POST; the rest go again."""
    refusal = {"error": {"message": "Invalid OAuth access token.", "code": 190}}
    calls = 0

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return GraphResponse(400, refusal)
        return GraphResponse(200, [ok_item(i) for i in range(len(items))])

    poster = ScriptedPoster(answer)
    transport = BatchingTransport(poster, batch_size=3, linger_s=0)
    async with asyncio.timeout(5):  # a request left unanswered would hang here
        first, second, third = await asyncio.gather(*(transport.send(request(i)) for i in range(3)))
    assert (first.status, first.body) == (400, refusal)
    assert (second.status, third.status) == (200, 200)
    assert [len(orjson.loads(f["batch"])) for f in poster.forms] == [3, 2]


async def test_an_answer_of_the_wrong_length_fails_the_whole_post() -> None:
    """A list with fewer items than requests cannot be matched up: every request fails."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        return GraphResponse(200, [ok_item(0)])

    transport = BatchingTransport(ScriptedPoster(answer), batch_size=2)
    results = await send_all(transport, [request(0), request(1)])
    assert [type(r) for r in results] == [BadResponse, BadResponse]


async def test_an_item_whose_body_is_not_json_fails_alone() -> None:
    """An item with a non-JSON body fails with BadResponse; its neighbour gets its answer."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        return GraphResponse(200, [{"code": 200, "body": "{trunc"}, ok_item(1)])

    transport = BatchingTransport(ScriptedPoster(answer), batch_size=2)
    broken, fine = await send_all(transport, [request(0), request(1)])
    assert isinstance(broken, BadResponse)
    assert isinstance(fine, GraphResponse) and fine.body["n"] == 1


@pytest.mark.parametrize("size", [0, 51])
def test_the_transport_refuses_a_batch_size_outside_1_to_50(size: int) -> None:
    """BatchingTransport only takes batch sizes Meta accepts (1..50)."""

    async def answer(items: list[dict[str, str]]) -> GraphResponse:
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="batch_size"):
        BatchingTransport(ScriptedPoster(answer), batch_size=size)


# --- [graph].batch_size -------------------------------------------------------------


def config_with(tmp_path: Path, line: str) -> Path:
    return write_config(
        tmp_path / "config.toml",
        SCENARIO,
        "http://127.0.0.1:1",
        since="2025-11-01",
        until="2025-11-10",
        out=tmp_path,
        extra_graph=line,
    )


def test_batch_size_defaults_to_one(tmp_path: Path) -> None:
    """Without batch_size the config asks for no batching (1)."""
    assert load_config(config_with(tmp_path, "")).graph.batch_size == 1


def test_batch_size_fifty_is_accepted(tmp_path: Path) -> None:
    """batch_size = 50, Meta's maximum, is read as given."""
    assert load_config(config_with(tmp_path, "batch_size = 50")).graph.batch_size == 50


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("batch_size = 51", "at most 50"),
        ("batch_size = 0", "at least 1"),
        ("batch_size = true", "an integer"),
        ('batch_size = "10"', "an integer"),
    ],
)
def test_a_bad_batch_size_is_a_config_error_naming_the_key(
    tmp_path: Path, line: str, message: str
) -> None:
    """A batch_size outside 1..50 or not an integer stops with an error naming [graph].batch_size."""
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(config_with(tmp_path, line))
    assert "batch_size" in str(caught.value)
