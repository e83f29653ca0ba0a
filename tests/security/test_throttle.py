"""Failed password logins are throttled (`modelport.services.throttle`, docs/security.md).

The throttle itself first, on a fake clock (no test sleeps): the lock-out after
`max_failures`, the sliding window, success resetting, locks per (account, address) and per
address, the bound on its memory, and, as a property, that no guessing from other addresses
ever locks the real user out. Then each real login endpoint, in process with its own
throttle and fake clock: ZStack's `logInByAccount` (503 `ID.1000`) and the IAM token API
(429 with `Retry-After`), each refusing even the right password while locked, for that
address only, until the lock-out is over. Last, the settings reach both endpoints through
`server.build`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from tests.ports import free_port

from modelport.api import dialects
from modelport.api.deps import ApiContext
from modelport.backends.fake import FakeBackend
from modelport.config import Settings
from modelport.domain.auth import Principal
from modelport.domain.errors import RateLimited
from modelport.server import build
from modelport.services import credentials
from modelport.services.secrets import Cipher
from modelport.services.services import ServiceOps
from modelport.services.throttle import ADDRESS_FACTOR, LoginThrottle
from modelport.store import Store

PASSWORD = "alice-password"


class FakeTime:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def locked(throttle: LoginThrottle, account: str, address: str) -> float | None:
    """The seconds left of the lock-out, or None when a login may go on."""
    try:
        throttle.check(account, address)
    except RateLimited as exc:
        return exc.retry_after
    return None


# -- the throttle ----------------------------------------------------------------------------


def test_max_failures_lock_the_pair_out_for_the_lockout() -> None:
    clock = FakeTime()
    throttle = LoginThrottle(3, window=60, lockout=120, clock=clock)
    for _ in range(2):
        throttle.failed("alice", "10.0.0.1")
        assert locked(throttle, "alice", "10.0.0.1") is None
    throttle.failed("alice", "10.0.0.1")
    assert locked(throttle, "alice", "10.0.0.1") == 120
    with pytest.raises(RateLimited, match="try again in 120 seconds"):
        throttle.check("alice", "10.0.0.1")
    clock.advance(119.5)
    assert locked(throttle, "alice", "10.0.0.1") == pytest.approx(0.5)
    with pytest.raises(RateLimited, match="try again in 1 seconds"):
        throttle.check("alice", "10.0.0.1")
    clock.advance(0.5)
    assert locked(throttle, "alice", "10.0.0.1") is None
    # the lock-out starts a fresh count
    throttle.failed("alice", "10.0.0.1")
    assert locked(throttle, "alice", "10.0.0.1") is None


def test_the_lock_holds_for_that_address_and_that_account_only() -> None:
    throttle = LoginThrottle(3, clock=FakeTime())
    for _ in range(3):
        throttle.failed("alice", "10.0.0.1")
    assert locked(throttle, "alice", "10.0.0.1")
    assert locked(throttle, "alice", "10.0.0.2") is None  # the real user, elsewhere
    assert locked(throttle, "bob", "10.0.0.1") is None
    assert locked(throttle, "", "10.0.0.1") is None  # an empty name is just a name


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = FakeTime()
    throttle = LoginThrottle(3, window=60, lockout=120, clock=clock)
    throttle.failed("alice", "a")
    throttle.failed("alice", "a")
    clock.advance(60)
    throttle.failed("alice", "a")
    assert locked(throttle, "alice", "a") is None  # the first two slid out
    clock.advance(30)
    throttle.failed("alice", "a")
    throttle.failed("alice", "a")
    assert locked(throttle, "alice", "a") == 120


def test_success_resets_its_pair_only() -> None:
    throttle = LoginThrottle(3, clock=FakeTime())
    for _ in range(2):
        throttle.failed("alice", "a")
    throttle.succeeded("alice", "a")
    for _ in range(2):
        throttle.failed("alice", "a")
    assert locked(throttle, "alice", "a") is None
    throttle.failed("alice", "a")
    assert locked(throttle, "alice", "a")


def test_guessing_across_names_locks_the_address() -> None:
    clock = FakeTime()
    throttle = LoginThrottle(2, window=60, lockout=30, clock=clock)
    limit = 2 * ADDRESS_FACTOR
    for i in range(limit - 1):
        throttle.failed(f"name-{i}", "10.0.0.9")
        throttle.succeeded("mallory", "10.0.0.9")  # a good login of its own wipes nothing
    assert locked(throttle, "anyone", "10.0.0.9") is None
    throttle.failed("one-more", "10.0.0.9")
    assert locked(throttle, "anyone", "10.0.0.9") == 30
    assert locked(throttle, "mallory", "10.0.0.9") == 30
    assert locked(throttle, "anyone", "10.0.0.8") is None
    clock.advance(30)
    assert locked(throttle, "anyone", "10.0.0.9") is None


def test_zero_max_failures_turns_it_off() -> None:
    throttle = LoginThrottle(0, clock=FakeTime())
    assert not throttle.enabled
    for _ in range(1000):
        throttle.failed("alice", "a")
    assert locked(throttle, "alice", "a") is None
    assert len(throttle) == 0


def test_memory_is_bounded() -> None:
    clock = FakeTime()
    throttle = LoginThrottle(2, clock=clock, capacity=4)
    for i in range(100):
        throttle.failed(f"name-{i}", f"10.0.{i}.1")
    assert len(throttle) == 4
    # the most recently touched are kept: the last pair still counts toward its limit
    throttle.failed("name-99", "10.0.99.1")
    assert locked(throttle, "name-99", "10.0.99.1")


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_failures": -1},
        {"window": 0},
        {"lockout": -1},
        {"capacity": 0},
    ],
)
def test_bad_settings_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="max_failures"):
        LoginThrottle(**arguments)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob", "root", ""]),  # accounts guessed, the user's too
            st.sampled_from(["10.0.0.66", "10.0.0.67", "2001:db8::1"]),  # attackers' addresses
            st.floats(min_value=0, max_value=200),  # seconds before the attempt
        ),
        max_size=200,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_guesses_from_elsewhere_never_lock_the_real_user_out(
    attempts: list[tuple[str, str, float]], max_failures: int
) -> None:
    clock = FakeTime()
    throttle = LoginThrottle(max_failures, window=300, lockout=600, clock=clock)
    for account, address, pause in attempts:
        clock.advance(pause)
        if locked(throttle, account, address) is None:
            throttle.failed(account, address)
        assert locked(throttle, "alice", "192.0.2.10") is None


# -- through the login endpoints -------------------------------------------------------------


Caller = Callable[[str], httpx.AsyncClient]  # a client from that address


@asynccontextmanager
async def doors(store: Store, throttle: LoginThrottle) -> AsyncIterator[Caller]:
    """The dialects' routes on `store`, in process; callers from the addresses they name."""
    cipher = Cipher(Cipher.new_key())
    ops = ServiceOps(store, cipher, FakeBackend(), wake=lambda: None)
    ctx = ApiContext(store, ops, "http://test", cipher, logins=throttle)
    app = Starlette(routes=dialects.routes(ctx))
    made: list[httpx.AsyncClient] = []

    def caller(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        made.append(httpx.AsyncClient(transport=transport, base_url="http://test"))
        return made[-1]

    try:
        yield caller
    finally:
        for client in made:
            await client.aclose()


async def zstack_login(
    http: httpx.AsyncClient, password: str, account: str = "alice"
) -> httpx.Response:
    digest = hashlib.sha512(password.encode()).hexdigest()
    body = {"logInByAccount": {"accountName": account, "password": digest}}
    return await http.put("/zstack/v1/accounts/login", json=body)


async def iam_login(http: httpx.AsyncClient, password: str) -> httpx.Response:
    user = {"name": "alice", "password": password}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    return await http.post("/v3/auth/tokens", json=body)


def zstack_error(r: httpx.Response) -> tuple[int, str, str]:
    error = r.json()["error"]
    return r.status_code, error["code"], error["details"]


def iam_error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["message"]


async def test_zstack_login_is_throttled(store: Store, principal: Principal) -> None:
    await credentials.create_user(store, principal, "alice", PASSWORD)
    clock = FakeTime()
    async with doors(store, LoginThrottle(3, window=60, lockout=120, clock=clock)) as caller:
        guesser, user = caller("10.0.0.66"), caller("10.0.0.10")
        wrong = (503, "ID.1000", "wrong account name or password")
        # a success resets the count
        for _ in range(2):
            assert zstack_error(await zstack_login(guesser, "guess")) == wrong
        assert (await zstack_login(guesser, PASSWORD)).status_code == 200
        for _ in range(3):
            assert zstack_error(await zstack_login(guesser, "guess")) == wrong
        # locked out: even the right password is refused, before it is checked
        refused = await zstack_login(guesser, PASSWORD)
        assert zstack_error(refused) == (
            503,
            "ID.1000",
            "too many failed logins from this address; try again in 120 seconds",
        )
        # the real user, at its own address, logs in
        assert (await zstack_login(user, PASSWORD)).status_code == 200
        clock.advance(120)
        assert (await zstack_login(guesser, PASSWORD)).status_code == 200


async def test_iam_token_issue_is_throttled(store: Store, principal: Principal) -> None:
    await credentials.create_user(store, principal, "alice", PASSWORD)
    clock = FakeTime()
    async with doors(store, LoginThrottle(2, window=60, lockout=45, clock=clock)) as caller:
        guesser, user = caller("2001:db8::66"), caller("2001:db8::10")
        wrong = (401, "The username or password is wrong.")
        for _ in range(2):
            assert iam_error(await iam_login(guesser, "guess")) == wrong
        refused = await iam_login(guesser, PASSWORD)
        assert iam_error(refused) == (
            429,
            "too many failed logins from this address; try again in 45 seconds",
        )
        assert refused.json()["error"]["title"] == "Too Many Requests"
        assert refused.headers["Retry-After"] == "45"
        assert "X-Subject-Token" not in refused.headers
        assert len(refused.headers["X-Request-Id"]) == 32
        assert (await iam_login(user, PASSWORD)).status_code == 201
        clock.advance(44)
        assert (await iam_login(guesser, PASSWORD)).status_code == 429
        clock.advance(1)
        assert (await iam_login(guesser, PASSWORD)).status_code == 201


async def test_the_settings_reach_both_logins(tmp_path: Path, database_url: str) -> None:
    settings_ = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        gateway_port=free_port(),
        gateway_batch_scheduling=False,
        login_max_failures=2,
        login_lockout=600,
    )
    app = build(settings_)
    async with app.router.lifespan_context(app):
        key = json.loads((tmp_path / "home" / "credentials").read_text())["api_key"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            for name in ("alice", "bob"):
                made = await http.post(
                    "/api/v1/users",
                    json={"name": name, "password": PASSWORD},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert made.status_code == 201
            for _ in range(2):
                assert (await iam_login(http, "guess")).status_code == 401
            assert (await iam_login(http, PASSWORD)).status_code == 429
            for _ in range(2):
                assert zstack_error(await zstack_login(http, "guess", "bob"))[2] == (
                    "wrong account name or password"
                )
            details = zstack_error(await zstack_login(http, PASSWORD, "bob"))[2]
            assert details.startswith("too many failed logins")
