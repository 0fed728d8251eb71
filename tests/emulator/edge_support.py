"""A small scenario and helpers shared by the pure edge tests (no HTTP)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from collector.emulator.answers import answer_insights
from collector.emulator.edge import EdgeAnswer, EdgeRequest, authenticate
from collector.emulator.scenario import Scenario, parse_scenario

BASE_URL = "http://127.0.0.1:8088"


def utc(text: str) -> float:
    """Unix seconds of an ISO UTC time such as ``2019-12-30T10:00:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


# 2019-12-30 02:00 PST: "today" is 2019-12-30 (Pacific), which began at 08:00Z.
NOW = utc("2019-12-30T10:00:00")
TODAY_START = int(utc("2019-12-30T08:00:00"))

BIG = "1001"  # 120000 followers, token T1, app "open"
SMALL = "1002"  # 99 followers
EXACT = "1003"  # exactly 100 followers
REVOKED = "1004"  # revoked at 2019-12-01
PROOFED = "1005"  # its app requires appsecret_proof

RAW: dict[str, object] = {
    "seed": 7,
    "revision_hours": 48,
    "apps": [
        {"name": "open", "app_id": "11", "app_secret": "secret-open"},
        {"name": "strict", "app_id": "22", "app_secret": "secret-strict", "require_proof": True},
    ],
    "accounts": [
        {"id": BIG, "followers": 120000, "token": "T1", "app": "open"},
        {"id": SMALL, "followers": 99, "token": "T2", "app": "open"},
        {"id": EXACT, "followers": 100, "token": "T3", "app": "open"},
        {
            "id": REVOKED,
            "followers": 5000,
            "token": "T4",
            "app": "open",
            "revoked_at": int(utc("2019-12-01T00:00:00")),
        },
        {"id": PROOFED, "followers": 8000, "token": "TS", "app": "strict"},
    ],
    "tokens": [
        {"token": "TEXP", "app": "open", "expires_at": int(utc("2019-12-29T20:00:00"))},
        {"token": "TSAME", "app": "open", "user_id": "u1001"},
        {"token": "TNOSCOPE", "app": "open", "user_id": "u1001", "scopes": ["instagram_basic"]},
    ],
}


def scenario(**overrides: object) -> Scenario:
    """The test scenario, with top-level keys replaced by ``overrides``."""
    return parse_scenario({**RAW, **overrides}, "edge_support")


SCENARIO = scenario()


def request(
    params: Mapping[str, str],
    *,
    ig: str = BIG,
    version: str = "v17.0",
    token: str | None = "T1",
    authorization: str | None = None,
) -> EdgeRequest:
    full = dict(params)
    if token is not None:
        full["access_token"] = token
    return EdgeRequest(version, ig, full, authorization, BASE_URL)


def ask(
    params: Mapping[str, str],
    *,
    ig: str = BIG,
    version: str = "v17.0",
    token: str | None = "T1",
    authorization: str | None = None,
    now: float = NOW,
    world: Scenario = SCENARIO,
) -> EdgeAnswer:
    """Authenticate and answer one insights request, as the server would."""
    req = request(params, ig=ig, version=version, token=token, authorization=authorization)
    caller = authenticate(world, req, now)
    if isinstance(caller, EdgeAnswer):
        return caller
    return answer_insights(world, req, caller, now)


def error_of(answer: EdgeAnswer) -> tuple[int, int, str]:
    """(HTTP status, Graph code, message) of an error answer."""
    error = answer.body["error"]
    return answer.status, error["code"], error["message"]


def values_of(answer: EdgeAnswer, index: int = 0) -> list[dict[str, object]]:
    assert answer.status == 200, answer.body
    entry: list[dict[str, object]] = answer.body["data"][index]["values"]
    return entry
