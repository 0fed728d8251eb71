"""ig-collector as a library: 90 days of two metrics from the bundled emulator.

    .venv/bin/python scripts/library_example.py [--now UNIX]

Starts the Graph API emulator in-process (the built-in scenario) and asks it, as
it would ask Meta, for 90 days of ``impressions`` and ``reach`` of one account:
more than the API's 30 days per request, so the client splits the range and
merges the answers. Prints one line per metric. ``--now`` pins the emulator's
clock (and the range's end) so the output is reproducible. The README's "Use it
as a library" example is this script without ``--now``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from collector import InsightsClient
from collector.emulator.clock import FixedClock
from collector.emulator.testing import running_emulator

ACCOUNT, TOKEN = "17841400000000001", "EAAdemoA001"  # from the built-in scenario


async def main(now: float | None) -> None:
    clock = FixedClock(now) if now is not None else None
    async with (
        running_emulator(clock=clock) as emulator,
        InsightsClient(
            access_token=TOKEN,
            api_version="v17.0",
            base_url=emulator.base_url,
            calls_per_hour=36_000,
        ) as client,
    ):
        until = int(now if now is not None else time.time())
        rows = await client.get_user_insights(
            ACCOUNT, "day", ["impressions", "reach"], since=until - 90 * 86400, until=until
        )
    for insight in rows:
        first, last = insight.values[0], insight.values[-1]
        print(f"{insight.name}: {len(insight.values)} values, {first.end_time} .. {last.end_time}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now", type=float, help="pin the emulator's clock (unix seconds)")
    asyncio.run(main(parser.parse_args().now))
