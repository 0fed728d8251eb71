"""The job (sdkjob.py) through facebook-business (Meta's Business SDK), as published.

Run by scripts/compat with the venv's Python and the bed's sitecustomize, so the
SDK talks to ``https://graph.facebook.com`` as it always does and reaches the
emulator. Accounts come from ``User("me").get_accounts`` (a Cursor that follows
``cursors.after``), insights from ``IGUser.get_insights``; the first page of an
insights Cursor is the whole answer (its ``paging`` holds time windows, not cursors,
so the Cursor stops there).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import sdkjob
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.user import User
from facebook_business.api import FacebookAdsApi

VERSION = "v21.0"
_APIS: dict[str, Any] = {}


def api_for(token: str) -> Any:
    if token not in _APIS:
        _APIS[token] = FacebookAdsApi.init(access_token=token, api_version=VERSION, crash_log=False)
    return _APIS[token]


def accounts_of(token: str) -> list[str]:
    pages = User(fbid="me", api=api_for(token)).get_accounts(
        fields=["id", "instagram_business_account"], params={"limit": 100}
    )
    return [
        p["instagram_business_account"]["id"] for p in pages if p.get("instagram_business_account")
    ]


def fetch(token: str, ask: sdkjob.Ask) -> list[dict[str, Any]]:
    cursor = IGUser(ask.account, api=api_for(token)).get_insights(params=dict(ask.params))
    return [cursor[i].export_all_data() for i in range(len(cursor))]


if __name__ == "__main__":
    # The SDK types some enum parameters as lists and warns on the strings Meta documents.
    warnings.simplefilter("ignore")
    sys.exit(sdkjob.main(accounts_of, fetch))
