"""The emulator's own route beside the Graph API it serves: ``GET /_emulator/calls``.

A client in another process (``scripts/compat`` runs real connectors against an
emulator subprocess) cannot reach ``state.calls``; this route hands it the call log
as JSON::

    GET /_emulator/calls?start=N  ->  {"calls": [record, ...], "next": M}

``calls`` holds the records from index ``N`` (default 0) on, oldest first, each as
:func:`collector.emulator.calllog.record_json` writes it (a token fingerprint, never
a token; parameters without secrets); ``next`` is the index to ask from next time.
Reading the log is not itself logged. No Graph id starts with ``_``, so the path
cannot shadow a node.
"""

from __future__ import annotations

from aiohttp import web

from collector.emulator.calllog import CallLog, record_json

CALLS_PATH = "/_emulator/calls"


def add_routes(router: web.UrlDispatcher, calls: CallLog) -> None:
    """Register the control routes on ``router`` (before the Graph node routes)."""

    async def handle_calls(request: web.Request) -> web.Response:
        try:
            start = max(0, int(request.query.get("start", "0")))
        except ValueError:
            return web.json_response({"error": "start must be a whole number"}, status=400)
        records = calls.records()
        return web.json_response(
            {"calls": [record_json(r) for r in records[start:]], "next": len(records)}
        )

    router.add_route("GET", CALLS_PATH, handle_calls)
