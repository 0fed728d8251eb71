"""One benchmark client per process: the same job, done by each client its own way.

    python scripts/bench/clients.py CLIENT --base-url URL --accounts N --out DIR
        [--first 0] [--concurrency 32] [--config FILE]

CLIENT is ``collector`` (``run_once`` on ``--config``, exactly what ``ig-collector
run`` does; ``--stop-after S`` stops taking work after S seconds), ``plan`` (load
``--config`` and build its whole plan, timed), ``pyfacebook`` (``IGBusinessApi.user.get_insights`` in a plain loop),
``pyfacebook-threads`` (the same calls in a ThreadPoolExecutor of ``--concurrency``
workers, one API object per thread), ``facebook-business`` (``IGUser.get_insights``
in a loop, one ``FacebookAdsApi`` per account token, as the SDK binds a session to a
token) or ``floor`` (a bare aiohttp loop: the floor of any asyncio client that
understands the answer, see :func:`run_floor`).

The job: accounts ``first .. first+N-1`` of the bench scenario, the legacy metrics
(v17.0) for 90 end_time dates. The peers send exactly the requests the collector
plans (same metric groups, same 30-day windows; the plan is computed up front and
costs microseconds), and write every value as one NDJSON line with the standard
library's ``json``, the way a script around these SDKs would (``floor`` parses each
answer and writes nothing). The child prints one ``BENCH {json}`` line: wall seconds,
CPU seconds and peak RSS of this process, requests sent, lines written (``floor``:
values seen, counted as the peers count their lines).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import hashlib
import hmac
import json
import os
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

import benchlib
from floor import run_floor

from collector.graph.pacific import pacific_date
from collector.planning.planner import AccountRef, PlannedRequest, PlanSpec, plan_account


def planned(first: int, n: int) -> list[PlannedRequest]:
    """The collector's plan for the job (90 end_time dates ending today, Pacific)."""
    today = pacific_date(dt.datetime.now(dt.UTC))
    spec = PlanSpec(
        version="v17.0",
        metrics=benchlib.LEGACY_METRICS,
        periods=benchlib.PERIODS,
        first=today - dt.timedelta(days=89),
        last=today,
        today=today,
    )
    return [
        request
        for i in range(first, first + n)
        for request in plan_account(AccountRef(benchlib.account_id(i), benchlib.APP_NAME), spec)
    ]


def token_of(account: str) -> str:
    return benchlib.token(int(account[-10:]))


def write_lines(out: TextIO, account: str, body: dict[str, Any]) -> int:
    """One NDJSON line per value (hour and audience maps: one per key); returns lines."""
    lines = 0
    for entry in body.get("data", []):
        for item in entry.get("values", []):
            value = item["value"]
            base = {
                "account_id": account,
                "metric": entry["name"],
                "period": entry["period"],
                "end_time": item.get("end_time"),
            }
            if isinstance(value, dict):
                for key, number in value.items():
                    out.write(json.dumps({**base, "dimensions": {"key": key}, "value": number}))
                    out.write("\n")
                    lines += 1
            else:
                out.write(json.dumps({**base, "dimensions": {}, "value": value}) + "\n")
                lines += 1
    return lines


def _window_args(request: PlannedRequest) -> dict[str, str]:
    if request.window is None:
        return {}
    return {"since": str(request.window.since), "until": str(request.window.until)}


def pyfacebook_api(base_url: str) -> Any:
    from pyfacebook import IGBusinessApi  # type: ignore[import-untyped]

    return IGBusinessApi(
        app_id=benchlib.APP_ID,
        app_secret=benchlib.APP_SECRET,
        access_token=benchlib.token(0),
        base_url=f"{base_url}/",
        version="v17.0",
        sleep_on_rate_limit=False,
        timeout=30,
    )


def pyfacebook_call(api: Any, request: PlannedRequest) -> dict[str, Any]:
    body: dict[str, Any] = api.user.get_insights(
        user_id=request.account_id,
        metric=",".join(request.metrics),
        period=request.period,
        access_token=token_of(request.account_id),
        return_json=True,
        **_window_args(request),
    )
    return body


def run_pyfacebook(base_url: str, requests: list[PlannedRequest], out: TextIO) -> int:
    api = pyfacebook_api(base_url)
    lines = 0
    for request in requests:
        lines += write_lines(out, request.account_id, pyfacebook_call(api, request))
    return lines


def run_pyfacebook_threads(
    base_url: str, requests: list[PlannedRequest], out: TextIO, workers: int
) -> int:
    local = threading.local()
    lock = threading.Lock()
    counted = [0]

    def one(request: PlannedRequest) -> None:
        api = getattr(local, "api", None)
        if api is None:
            api = local.api = pyfacebook_api(base_url)
        body = pyfacebook_call(api, request)
        with lock:
            counted[0] += write_lines(out, request.account_id, body)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(one, requests):
            pass
    return counted[0]


def run_facebook_business(base_url: str, requests: list[PlannedRequest], out: TextIO) -> int:
    from facebook_business.adobjects.iguser import IGUser  # type: ignore[import-untyped]
    from facebook_business.api import FacebookAdsApi  # type: ignore[import-untyped]
    from facebook_business.session import FacebookSession  # type: ignore[import-untyped]

    # The SDK types period as a list and warns on the plain string Meta documents.
    warnings.filterwarnings("ignore", message="value of period might not be compatible")
    apis: dict[str, Any] = {}
    lines = 0
    for request in requests:
        account = request.account_id
        api = apis.get(account)
        if api is None:
            apis.clear()  # one account at a time, as a loop over accounts would
            session = FacebookSession(benchlib.APP_ID, benchlib.APP_SECRET, token_of(account))
            session.GRAPH = base_url
            api = apis[account] = FacebookAdsApi(session, api_version="v17.0")
        params: dict[str, Any] = {"metric": list(request.metrics), "period": request.period}
        params.update(_window_args(request))
        cursor = IGUser(account, api=api).get_insights(params=params)
        # The first page is the request; iterating on would follow paging.next (SPEC 3).
        data = [cursor[i].export_all_data() for i in range(len(cursor))]
        lines += write_lines(out, account, {"data": data})
    return lines


def floor_params(request: PlannedRequest, proofs: dict[str, str]) -> dict[str, str]:
    """The query pyfacebook sends for ``request``: metric, period, the window, the
    account's token as ``access_token`` and its ``appsecret_proof`` (HMAC-SHA256 of
    the token with the app secret; computed once per token, ``proofs`` keeps them)."""
    token = token_of(request.account_id)
    proof = proofs.get(token)
    if proof is None:
        secret = benchlib.APP_SECRET.encode()
        proof = proofs[token] = hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()
    params = {"metric": ",".join(request.metrics), "period": request.period}
    params.update(_window_args(request))
    params["access_token"] = token
    params["appsecret_proof"] = proof
    return params


def run_collector(
    config: Path,
    stop_after: float | None = None,
    time_scale: float = 1.0,
    target_pct: float | None = None,
    tune_gc: bool = True,
) -> dict[str, object]:
    """``ig-collector run`` in-process, on the CLI's event loop and GC settings
    (``tune_gc`` False: Python's GC defaults); ``stop_after`` seconds: stop taking work then
    (the daemon's seam: drain, commit what was answered) for a slice of a long pull.

    ``time_scale`` scales the budgets' durations (probe waits, Meta's minute, the
    usage window) and the retry pause for an emulator whose rate windows are
    shortened by that factor; ``target_pct`` replaces every app's usage target.
    """
    from collector.config.load import load_config
    from collector.engine.run import run_once
    from collector.logs import configure
    from collector.pacing.retry import RetryPolicy
    from collector.pacing.settings import BudgetSettings

    loaded = load_config(config)
    configure(loaded.log.format, loaded.log.level)
    retries = RetryPolicy()
    if time_scale != 1.0:
        retries = RetryPolicy(throttle_pause_s=retries.throttle_pause_s * time_scale)

    def tune(settings: BudgetSettings) -> BudgetSettings:
        settings = settings.scaled(time_scale)
        if target_pct is not None:
            settings = dataclasses.replace(settings, target_pct=target_pct)
        return settings

    async def pull() -> Any:
        stop = asyncio.Event()
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, stop.set)
        return await run_once(
            loaded,
            stop=stop,
            grace_s=10.0,
            tune_budgets=tune,
            policy=retries,
        )

    try:
        from collector.engine import speed
    except ImportError:  # a --source checkout from before engine.speed
        summary = asyncio.run(pull())
    else:
        if tune_gc:
            speed.tune_gc()
            if os.environ.get("IG_BENCH_GC"):  # an experiment: other thresholds after the freeze
                gc.set_threshold(*(int(n) for n in os.environ["IG_BENCH_GC"].split(",")))
        summary = speed.run(pull())
    return {
        "requests": summary.calls,
        "lines": summary.points_written,
        "failed": summary.failed,
        "planned": summary.planned,
        "throttled": sum(summary.throttled.values()),
        "retries": sum(summary.retries.values()),
    }


def run_plan(config: Path) -> dict[str, object]:
    """Load the config, count the plan by arithmetic, then build every request lazily."""
    from collector.config.load import load_config
    from collector.engine.run import plan_specs, planned_requests
    from collector.graph.pacific import pacific_date
    from collector.planning.planner import AccountRef, plan_account

    started = time.perf_counter()
    loaded = load_config(config)
    loaded_at = time.perf_counter()
    specs = plan_specs(loaded, pacific_date(dt.datetime.now(dt.UTC)))
    counted = sum(planned_requests(loaded, specs).values())
    counted_at = time.perf_counter()
    built = 0
    for account in loaded.accounts:
        for _ in plan_account(AccountRef(account.id, account.app), specs[account.app]):
            built += 1
    built_at = time.perf_counter()
    return {
        "accounts": len(loaded.accounts),
        "requests": built,
        "counted": counted,
        "load_s": loaded_at - started,
        "count_s": counted_at - loaded_at,
        "build_s": built_at - counted_at,
    }


def preload(client: str) -> None:
    """Import the client's modules before measuring: CPU counts the job, not the imports."""
    import importlib

    modules = {
        "collector": ("collector.engine.run", "collector.config.load", "collector.logs"),
        "plan": ("collector.engine.run", "collector.config.load"),
        "pyfacebook": ("pyfacebook",),
        "pyfacebook-threads": ("pyfacebook",),
        "floor": ("aiohttp", "orjson"),
        "facebook-business": (
            "facebook_business.adobjects.iguser",
            "facebook_business.api",
            "facebook_business.session",
        ),
    }
    for name in modules[client]:
        importlib.import_module(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "client",
        choices=(
            "collector",
            "plan",
            "pyfacebook",
            "pyfacebook-threads",
            "facebook-business",
            "floor",
        ),
    )
    parser.add_argument("--base-url")
    parser.add_argument("--accounts", type=int, default=0)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--stop-after", type=float)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--target-pct", type=float)
    parser.add_argument(
        "--loop",
        choices=("default", "asyncio"),
        default="default",
        help="collector: the event loop; default: what the CLI picks (uvloop when installed)",
    )
    parser.add_argument(
        "--gc",
        choices=("tuned", "default"),
        default="tuned",
        help="collector: the CLI's GC settings (engine.speed.tune_gc), or Python's defaults",
    )
    args = parser.parse_args()
    preload(args.client)
    if args.loop == "asyncio":
        os.environ["IG_COLLECTOR_LOOP"] = "asyncio"
    if args.client in ("collector", "plan"):
        gc_s = benchlib.gc_timer()
        started = benchlib.usage_now()
        main_thread = time.thread_time()
        with benchlib.Timer() as timer:
            if args.client == "plan":
                fields = run_plan(args.config)
            else:
                fields = run_collector(
                    args.config,
                    args.stop_after,
                    args.time_scale,
                    args.target_pct,
                    tune_gc=args.gc == "tuned",
                )
        fields["main_cpu_s"] = time.thread_time() - main_thread
        fields["gc_s"] = gc_s()
        benchlib.child_report(started, timer.s, **fields)
        return
    requests = planned(args.first, args.accounts)
    runners: dict[str, Callable[[TextIO], int]] = {
        "pyfacebook": lambda out: run_pyfacebook(args.base_url, requests, out),
        "pyfacebook-threads": lambda out: run_pyfacebook_threads(
            args.base_url, requests, out, args.concurrency
        ),
        "facebook-business": lambda out: run_facebook_business(args.base_url, requests, out),
    }
    started = benchlib.usage_now()
    if args.client == "floor":
        with benchlib.Timer() as timer:
            proofs: dict[str, str] = {}
            lines = run_floor(
                args.base_url,
                requests,
                args.concurrency,
                lambda request: floor_params(request, proofs),
            )
    else:
        with benchlib.Timer() as timer, (args.out / f"{args.client}.ndjson").open("w") as out:
            lines = runners[args.client](out)
    benchlib.child_report(started, timer.s, requests=len(requests), lines=lines)


if __name__ == "__main__":
    main()
