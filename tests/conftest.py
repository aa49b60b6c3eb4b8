"""Shared pytest fixtures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

IB_LOG_FAILURES = ("Error handling fields", "Error for", "request timed out")
"""Log text meaning ib_async dropped a message or a request went unanswered."""


class _FailureCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if any(marker in text for marker in IB_LOG_FAILURES):
            self.failures.append(f"{record.name}: {text}")


class IbLogGuard:
    """Collects ib_async log records that signal a silently dropped message."""

    def __init__(self, collector: _FailureCollector) -> None:
        self._collector = collector

    @property
    def failures(self) -> list[str]:
        return list(self._collector.failures)

    def clear(self) -> None:
        """Forget the failures seen so far (for tests that provoke one on purpose)."""
        self._collector.failures.clear()

    def assert_clean(self) -> None:
        """Fail now if ib_async has logged a dropped message or a timed-out request."""
        assert not self._collector.failures, "\n".join(self._collector.failures)


@pytest.fixture
def ib_log_guard() -> Iterator[IbLogGuard]:
    """Fail the test if ib_async logs "Error handling fields", "Error for" or a timeout."""
    collector = _FailureCollector()
    logger = logging.getLogger("ib_async")
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    logger.addHandler(collector)
    guard = IbLogGuard(collector)
    try:
        yield guard
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)
    guard.assert_clean()


@pytest.fixture(autouse=True, scope="session")
def _private_user_dirs(tmp_path_factory) -> Iterator[None]:
    """Tests never read the real user's config (e.g. their strategy plugins) nor write their
    data or logs: the user dirs point into the test run's temporary folder unless set."""
    import os

    keys = ("LIVEDESK_CONFIG_DIR", "LIVEDESK_DATA_DIR", "LIVEDESK_STATE_DIR")
    saved = {k: os.environ.get(k) for k in keys}
    base = tmp_path_factory.mktemp("user-dirs")
    for k in keys:
        os.environ.setdefault(k, str(base / k.rsplit("_", 2)[1].lower()))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# ---- simulated gateway fixtures ---------------------------------------------------------

import asyncio  # noqa: E402
import datetime as dt  # noqa: E402

TEST_SESSION = dt.date(2026, 11, 20)
"""A fixed XNYS session so tests do not depend on today's date."""


@pytest.fixture(scope="session")
def market():
    """One simulated market for the whole test run (paths are generated lazily and cached)."""
    from livedesk.backend.sim.market.model import MarketModel

    return MarketModel(seed=7, session=TEST_SESSION)


async def until(predicate, timeout: float = 3.0, interval: float = 0.005) -> None:
    """Wait until ``predicate()`` is true; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


@pytest.fixture
async def gw(market, tmp_path):
    """A running simulated gateway on a free loopback port, clock stopped one hour after the open."""
    from livedesk.backend.sim.gateway import SimGateway

    gateway = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_open() + 3600,
        tick_interval=0.02,
        account_interval=0.1,
    )
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
def journal(tmp_path):
    """A journal in the test's directory (a test module may define its own)."""
    from livedesk.backend.journal import Journal

    j = Journal(tmp_path / "journal.sqlite3", synchronous="NORMAL")
    yield j
    j.close()


@pytest.fixture
async def app(gw, journal):
    """A TradingApp on ``gw`` with the reliability tests' fast reconnect settings."""
    from tests.reliability_helpers import connect

    a = await connect(gw, journal)
    yield a
    a.disconnect()


@pytest.fixture
async def ib(gw, ib_log_guard):
    """An unmodified ib_async client connected and synced to ``gw``."""
    from ib_async import IB

    client = IB()
    await client.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=5)
    yield client
    client.disconnect()
