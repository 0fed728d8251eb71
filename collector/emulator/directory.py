"""Who sees what: Pages, their IG accounts, and the tokens that reach them.

Meta's model (Instagram Platform, "Get started" and the Page reference): an IG
professional account is linked to one Facebook Page; a *user* token reaches the
IG accounts of the Pages its user has a role on (``GET /me/accounts`` lists them;
an agency's Business Manager *system user* holds roles on many clients' Pages);
a *Page* token (the Page's ``access_token`` field) acts as that Page and reaches
its linked IG account.

The emulator's reading, on a scenario (:mod:`collector.emulator.scenario`):

- a user token sees a Page when the Page is in its ``[[tokens]] pages`` list, or
  the Page's linked account has that token as its own ``token``, or that account's
  token belongs to the same ``user_id``;
- a Page token sees its own Page only;
- a token reaches an IG account when it is the account's token, belongs to the same
  user, or sees the account's Page;
- listings leave out Pages whose account's access was revoked (``revoked_at``).

A scenario is immutable, so each :class:`Directory` is built once and remembered.
"""

from __future__ import annotations

from collector.emulator.scenario import Account, Page, Scenario, TokenInfo


class Directory:
    """The Pages of one scenario and the access rules over them."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.pages: tuple[Page, ...] = scenario.all_pages()
        self._by_id = {page.id: page for page in self.pages}
        self._by_account = {page.account: page for page in self.pages if page.account}
        self._accounts = {account.id: account for account in scenario.accounts}
        self._tokens: dict[str, TokenInfo | None] = {}

    def token_info(self, token: str) -> TokenInfo | None:
        """The scenario's facts about ``token`` (remembered)."""
        try:
            return self._tokens[token]
        except KeyError:
            found = self._tokens[token] = self.scenario.token_info(token)
            return found

    def account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def page(self, page_id: str) -> Page | None:
        return self._by_id.get(page_id)

    def page_of(self, account_id: str) -> Page | None:
        """The Page an account is linked to (every account has one, implied or declared)."""
        return self._by_account.get(account_id)

    def _same_user(self, token: str, account: Account) -> bool:
        mine = self.token_info(token)
        owner = self.token_info(account.token)
        return bool(mine and owner and mine.user_id and mine.user_id == owner.user_id)

    def sees_page(self, token: str, page: Page) -> bool:
        """Whether ``token`` may read ``page`` (a role on it, or it is the Page's token)."""
        info = self.token_info(token)
        if info is None:
            return False
        if info.kind == "PAGE":
            return page.access_token == token
        if page.id in info.pages:
            return True
        account = self.account(page.account) if page.account else None
        return account is not None and (account.token == token or self._same_user(token, account))

    def sees_account(self, token: str, account: Account) -> bool:
        """Whether ``token`` reaches ``account`` (revocation is the caller's concern)."""
        if account.token == token or self._same_user(token, account):
            return True
        page = self.page_of(account.id)
        return page is not None and self.sees_page(token, page)

    def pages_listed(self, token: str, now: float) -> list[Page]:
        """``/me/accounts`` for a user token: the Pages it sees, in scenario order,
        without those whose linked account's access is revoked by ``now``."""
        listed = []
        for page in self.pages:
            account = self.account(page.account) if page.account else None
            if account is not None and account.revoked_at is not None and account.revoked_at <= now:
                continue
            if self.sees_page(token, page):
                listed.append(page)
        return listed


_DIRECTORIES: dict[int, tuple[Scenario, Directory]] = {}


def directory(scenario: Scenario) -> Directory:
    """The :class:`Directory` of ``scenario`` (by identity: hashing a scenario hashes it all)."""
    entry = _DIRECTORIES.get(id(scenario))
    if entry is None or entry[0] is not scenario:
        if len(_DIRECTORIES) >= 16:
            _DIRECTORIES.clear()
        entry = _DIRECTORIES[id(scenario)] = (scenario, Directory(scenario))
    return entry[1]
