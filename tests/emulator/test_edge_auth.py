"""Authentication at the insights edge: tokens, appsecret_proof, account access."""

from __future__ import annotations

import hashlib
import hmac

from collector.emulator.edge import Caller, EdgeAnswer, authenticate, graph_error, token_of

from .edge_support import (
    BIG,
    NOW,
    PROOFED,
    REVOKED,
    SCENARIO,
    SMALL,
    ask,
    error_of,
    request,
)

DAY = {"metric": "impressions", "period": "day"}


def proof(secret: str, message: str) -> str:
    """Independent HMAC-SHA256 hex, as SPEC 1 defines appsecret_proof."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_missing_token_is_error_104() -> None:
    """No token anywhere gives code 104 with Meta's message."""
    assert error_of(ask(DAY, token=None)) == (
        400,
        104,
        "An access token is required to request this resource.",
    )


def test_token_read_from_bearer_header() -> None:
    """An Authorization: Bearer header carries the token."""
    assert token_of(request(DAY, token=None, authorization="Bearer T1")) == "T1"
    assert ask(DAY, token=None, authorization="Bearer T1").status == 200


def test_token_read_from_oauth_header() -> None:
    """An Authorization: OAuth header carries the token."""
    assert ask(DAY, token=None, authorization="OAuth T1").status == 200


def test_unknown_token_is_error_190() -> None:
    """A token the scenario does not know gives code 190."""
    assert error_of(ask(DAY, token="nope")) == (
        400,
        190,
        "Invalid OAuth access token - Cannot parse access token",
    )


def test_expired_token_is_error_190_subcode_463() -> None:
    """A token past expires_at gives code 190, subcode 463, 'Session has expired'."""
    error = ask(DAY, token="TEXP").body["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert error["message"].startswith("Error validating access token: Session has expired on")
    assert "PST" in error["message"]


def test_app_requiring_proof_refuses_request_without_it() -> None:
    """An app with require_proof answers code 100 when appsecret_proof is missing."""
    assert error_of(ask(DAY, ig=PROOFED, token="TS")) == (
        400,
        100,
        "API calls from the server require an appsecret_proof argument",
    )


def test_correct_plain_proof_is_accepted() -> None:
    """HMAC-SHA256(app secret, token) is a valid proof."""
    params = {**DAY, "appsecret_proof": proof("secret-strict", "TS")}
    assert ask(params, ig=PROOFED, token="TS").status == 200


def test_wrong_proof_is_refused() -> None:
    """A proof signed with another secret is refused with Meta's message."""
    params = {**DAY, "appsecret_proof": proof("secret-open", "TS")}
    assert error_of(ask(params, ig=PROOFED, token="TS")) == (
        400,
        100,
        "Invalid appsecret_proof provided in the API argument",
    )


def test_proof_is_checked_even_when_not_required() -> None:
    """A wrong proof sent to an app that does not require one is still refused."""
    params = {**DAY, "appsecret_proof": "00" * 32}
    assert error_of(ask(params))[1] == 100


def test_timed_proof_is_accepted_within_five_minutes() -> None:
    """The newer proof signs token|appsecret_time and is valid 5 minutes from that time."""
    signed_at = str(int(NOW) - 240)
    params = {
        **DAY,
        "appsecret_time": signed_at,
        "appsecret_proof": proof("secret-strict", f"TS|{signed_at}"),
    }
    assert ask(params, ig=PROOFED, token="TS").status == 200


def test_timed_proof_expires_after_five_minutes() -> None:
    """A correctly signed timed proof older than 5 minutes is refused."""
    signed_at = str(int(NOW) - 301)
    params = {
        **DAY,
        "appsecret_time": signed_at,
        "appsecret_proof": proof("secret-strict", f"TS|{signed_at}"),
    }
    assert error_of(ask(params, ig=PROOFED, token="TS"))[1] == 100


def test_plain_proof_does_not_pass_as_timed_proof() -> None:
    """With appsecret_time sent, a proof of the bare token is refused."""
    params = {
        **DAY,
        "appsecret_time": str(int(NOW)),
        "appsecret_proof": proof("secret-strict", "TS"),
    }
    assert error_of(ask(params, ig=PROOFED, token="TS"))[2] == (
        "Invalid appsecret_proof provided in the API argument"
    )


def test_unknown_ig_user_is_subcode_33() -> None:
    """An IG user id the scenario does not know gives code 100 subcode 33 naming the id."""
    error = ask(DAY, ig="999").body["error"]
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert error["message"].startswith(
        "Unsupported get request. Object with ID '999' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )


def test_other_accounts_token_has_no_permission() -> None:
    """A token that does not own the account gives code 10."""
    assert error_of(ask(DAY, ig=SMALL, token="T1")) == (
        400,
        10,
        "(#10) Application does not have permission for this action",
    )


def test_revoked_account_has_no_permission() -> None:
    """After revoked_at the account's own token gets code 10."""
    assert error_of(ask(DAY, ig=REVOKED, token="T4"))[1] == 10


def test_token_of_same_user_reaches_the_account() -> None:
    """Another token of the account owner's user is let through."""
    caller = authenticate(SCENARIO, request(DAY, token="TSAME"), NOW)
    assert isinstance(caller, Caller)
    assert (caller.account.id, caller.app.name) == (BIG, "open")


def test_token_without_insights_scope_has_no_permission() -> None:
    """A token lacking instagram_manage_insights gets code 10."""
    assert error_of(ask(DAY, token="TNOSCOPE"))[1] == 10


def test_errors_never_contain_the_token() -> None:
    """No authentication error repeats the token it was given."""
    for token, ig in (("nope-secret", BIG), ("TEXP", BIG), ("T1", SMALL), ("TS", PROOFED)):
        answer = ask(DAY, ig=ig, token=token)
        assert isinstance(answer, EdgeAnswer) and token not in str(answer.body)


def test_graph_error_status_follows_code() -> None:
    """HTTP status defaults to 500 for codes 1/2, 403 for 4, 400 otherwise (SPEC 5)."""
    assert [graph_error(c, "x").status for c in (1, 2, 4, 17, 100, 190)] == [
        500,
        500,
        403,
        400,
        400,
        400,
    ]


def test_graph_error_optional_fields_only_when_given() -> None:
    """Subcode, is_transient and user texts appear only when passed; fbtrace_id always."""
    bare = graph_error(100, "m").body["error"]
    assert set(bare) == {"message", "type", "code", "fbtrace_id"}
    full = graph_error(
        2,
        "m",
        subcode=9,
        is_transient=True,
        user_title="t",
        user_msg="u",
        status=503,
        type_="GraphMethodException",
    )
    assert full.status == 503
    assert full.body["error"]["error_subcode"] == 9
    assert full.body["error"]["is_transient"] is True
    assert full.body["error"]["type"] == "GraphMethodException"
    assert (full.body["error"]["error_user_title"], full.body["error"]["error_user_msg"]) == (
        "t",
        "u",
    )


def test_fbtrace_ids_differ_between_errors() -> None:
    """Each error carries its own fbtrace_id."""
    ids = {graph_error(1, "same").body["error"]["fbtrace_id"] for _ in range(20)}
    assert len(ids) == 20
