"""The job (sdkjob.py) through pyfacebook (python-facebook-api), as published.

Run by scripts/compat with the venv's Python and the bed's sitecustomize, so the
SDK talks to ``https://graph.facebook.com`` as it always does and reaches the
emulator. Accounts come from ``/me/accounts`` (``get_full_connections``, which
follows the cursor), insights from ``IGBusinessApi.user.get_insights``.
"""

from __future__ import annotations

import sys
from typing import Any

import sdkjob
from pyfacebook import GraphAPI, IGBusinessApi

VERSION = "v21.0"
_APIS: dict[str, IGBusinessApi] = {}


def api_for(token: str) -> IGBusinessApi:
    if token not in _APIS:
        _APIS[token] = IGBusinessApi(access_token=token, version=VERSION, sleep_on_rate_limit=False)
    return _APIS[token]


def accounts_of(token: str) -> list[str]:
    api = GraphAPI(access_token=token, version=VERSION, sleep_on_rate_limit=False)
    # count=None: every page (its default, 10, stops at ten items whatever its docstring says)
    pages = api.get_full_connections(
        object_id="me",
        connection="accounts",
        count=None,
        limit=100,
        fields="id,instagram_business_account",
    )
    return [
        p["instagram_business_account"]["id"]
        for p in pages["data"]
        if "instagram_business_account" in p
    ]


def fetch(token: str, ask: sdkjob.Ask) -> list[dict[str, Any]]:
    params = dict(ask.params)
    params["metric"] = ",".join(params["metric"])
    body = api_for(token).user.get_insights(user_id=ask.account, return_json=True, **params)
    return body.get("data", [])  # type: ignore[no-any-return]


if __name__ == "__main__":
    sys.exit(sdkjob.main(accounts_of, fetch))
