"""Public Graph API clients read the emulator as they read Meta: value for value the truth.

pyfacebook and facebook-business are synchronous (``requests``), so the emulator
runs in a background thread here, with a fixed clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from facebook_business.adobjects.iguser import IGUser  # type: ignore[import-untyped]
from facebook_business.api import FacebookAdsApi  # type: ignore[import-untyped]
from facebook_business.session import FacebookSession  # type: ignore[import-untyped]
from pyfacebook import FacebookError, IGBusinessApi  # type: ignore[import-untyped]

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario, default_scenario
from collector.emulator.testing import RunningEmulator, emulator_in_thread
from collector.emulator.truth import truth_values

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2025, 11, 30, 12, tzinfo=LA).timestamp()
SINCE = int(dt.datetime(2025, 11, 19, 12, tzinfo=LA).timestamp())  # end_time dates Nov 20..29
UNTIL = int(dt.datetime(2025, 11, 29, 12, tzinfo=LA).timestamp())
# agency-b demands appsecret_proof, which both clients send when given the app secret.
APP_ID, APP_SECRET = "100000000000002", "demo-secret-b"
ACC, TOKEN = "17841400000000024", "EAAdemoB024"  # 45,500 followers, business 900005


def scenario() -> Scenario:
    base = default_scenario()
    return dataclasses.replace(base, limits=dataclasses.replace(base.limits, app_calls=10))


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with emulator_in_thread(scenario(), clock=FixedClock(NOW)) as running:
        yield running


def truth(metric: str) -> list[dict[str, Any]]:
    return truth_values(
        scenario(),
        account_id=ACC,
        metric=metric,
        period="day",
        since=SINCE,
        until=UNTIL,
        now=NOW,
    )


def pyfacebook_api(emu: RunningEmulator) -> IGBusinessApi:
    return IGBusinessApi(
        app_id=APP_ID,
        app_secret=APP_SECRET,
        access_token=TOKEN,
        base_url=f"{emu.base_url}/",
        version="v17.0",
        sleep_on_rate_limit=False,
    )


def test_pyfacebook_reads_the_truth(emu: RunningEmulator) -> None:
    """pyfacebook's get_insights returns, per metric, exactly the ground-truth values."""
    body = pyfacebook_api(emu).user.get_insights(
        user_id=ACC,
        metric="impressions,reach",
        period="day",
        since=str(SINCE),
        until=str(UNTIL),
        return_json=True,
    )
    got = {entry["name"]: entry["values"] for entry in body["data"]}
    assert got == {"impressions": truth("impressions"), "reach": truth("reach")}


def test_pyfacebook_parses_the_usage_headers(emu: RunningEmulator) -> None:
    """pyfacebook accepts both usage headers and reads the emulator's percentages."""
    api = pyfacebook_api(emu)
    api.user.get_insights(
        user_id=ACC, metric="reach", period="day", since=str(SINCE), until=str(UNTIL)
    )
    app = api.rate_limit.resources["app"]
    business = api.rate_limit.resources["business"]
    # One call of an allowance of 10; the BUC allowance is the default 200,000.
    assert (app.call_count, app.total_time, app.total_cputime) == (10, 10, 10)
    assert business["900005"]["instagram"].call_count == 0
    assert set(business) == {"900005", ACC}


def test_pyfacebook_dataclass_response_matches_the_truth(emu: RunningEmulator) -> None:
    """pyfacebook's typed response carries the same values as the ground truth."""
    response = pyfacebook_api(emu).user.get_insights(
        user_id=ACC, metric="reach", period="day", since=str(SINCE), until=str(UNTIL)
    )
    (entry,) = response.data
    got = [{"value": v.value, "end_time": v.end_time} for v in entry.values]
    assert got == truth("reach")


def facebook_business_user(emu: RunningEmulator) -> IGUser:
    session = FacebookSession(APP_ID, APP_SECRET, TOKEN)
    session.GRAPH = emu.base_url
    api = FacebookAdsApi(session, api_version="v17.0")
    return IGUser(ACC, api=api)


# The SDK types ``period`` as a list and warns on a plain string; a plain string is what
# Meta documents (SPEC 1) and what the emulator reads.
@pytest.mark.filterwarnings("ignore:value of period might not be compatible:UserWarning")
def test_facebook_business_reads_the_truth(emu: RunningEmulator) -> None:
    """facebook-business (metric as a JSON array) returns exactly the ground-truth values."""
    cursor = facebook_business_user(emu).get_insights(
        params={
            "metric": ["impressions", "reach"],
            "period": "day",
            "since": SINCE,
            "until": UNTIL,
        }
    )
    # The cursor would follow paging.next into later windows; the first page is the request.
    first_page = list(itertools.islice(cursor, 2))
    got = {entry["name"]: entry["values"] for entry in first_page}
    assert got == {"impressions": truth("impressions"), "reach": truth("reach")}


def test_pyfacebook_sees_a_fault_injected_from_the_test_thread(emu: RunningEmulator) -> None:
    """A transient fault injected from the test's thread reaches pyfacebook as error code 1."""
    emu.state.faults.inject("transient_1")
    with pytest.raises(FacebookError) as raised:
        pyfacebook_api(emu).user.get_insights(
            user_id=ACC, metric="reach", period="day", since=str(SINCE), until=str(UNTIL)
        )
    assert raised.value.code == 1
