"""The Watchlist pane's backend: its symbols, their market data and quote rows, remembered.

The list is the ``[watchlist] symbols`` setting, plus the symbols added from the keyboard,
minus those removed (both remembered in a small user-only JSON file, written atomically).
A symbol is what a trader types (``AAPL``, ``CL F27``, ``SPY 31DEC26 528 C``): its syntax is
checked by :mod:`livedesk.backend.manual.symbols`, then the gateway must know it. Each
symbol streams through the app's shared market data (one line per contract); a line the
watchlist opened is cancelled when the symbol is removed. The intraday sparkline starts
from today's 5-minute bars and follows the last price in 5-minute buckets of broker time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ib_async import Contract, Ticker

    from livedesk.backend.trading.app import TradingApp

log = logging.getLogger("livedesk.watchlist")

WATCHLIST_FILE = "watchlist.json"
BUCKET = 300.0
"""Seconds of one sparkline point (5-minute bars)."""
MAX_SYMBOLS = 100
UNSET = 1.7976931348623157e308


class WatchlistError(ValueError):
    """A symbol cannot be added (bad syntax, unknown to the gateway, already listed)."""


def normalise(text: str, today: dt.date) -> str:
    """The watchlist's name of ``text`` (upper case, single spaces), checked by the ticket's
    contract grammar; WatchlistError says what is wrong."""
    from livedesk.backend.manual.symbols import SymbolError, parse_symbol

    words = text.upper().split()
    if not words:
        raise WatchlistError("expected a symbol (AAPL, CL F27, SPY 31DEC26 528 C)")
    try:
        parsed = parse_symbol(words, today)
    except SymbolError as exc:
        raise WatchlistError(f"{' '.join(words)}: {exc}") from exc
    if parsed.words != len(words):
        extra = " ".join(words[parsed.words :])
        raise WatchlistError(f"{' '.join(words)}: unexpected {extra!r} after {parsed.label}")
    return parsed.label


def check_symbols(raw: object, today: dt.date) -> tuple[str, ...]:
    """``[watchlist] symbols``: a list of symbols; duplicates kept once (ValueError otherwise)."""
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ValueError(f"[watchlist] symbols must be a list of symbols, got {raw!r}")
    if len(raw) > MAX_SYMBOLS:
        raise ValueError(f"[watchlist] symbols: {len(raw)} symbols, at most {MAX_SYMBOLS}")
    out: list[str] = []
    for s in raw:
        try:
            name = normalise(s, today)
        except WatchlistError as exc:
            raise ValueError(f"[watchlist] symbols: {exc}") from exc
        if name not in out:
            out.append(name)
    return tuple(out)


@dataclass(frozen=True)
class Remembered:
    """What the keyboard changed: symbols added and settings symbols removed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def apply(self, configured: Iterable[str]) -> list[str]:
        """The watchlist: the configured symbols not removed, then the added ones."""
        out = [s for s in configured if s not in self.removed]
        return out + [s for s in self.added if s not in out]


def read_remembered(path: Path) -> Remembered:
    """The remembered changes (none when the file is missing or unreadable)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return Remembered()
    if not isinstance(data, dict):
        return Remembered()

    def names(key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        return tuple(s for s in value if isinstance(s, str)) if isinstance(value, list) else ()

    return Remembered(names("added"), names("removed"))


def write_remembered(path: Path, remembered: Remembered) -> None:
    """Write the file user-only (0600 in a 0700 dir), atomically."""
    from livedesk.backend.files import private_dir

    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"added": list(remembered.added), "removed": list(remembered.removed)}, fh)
    os.replace(tmp, path)


def _num(x: object) -> float:
    if x is None or isinstance(x, bool):
        return math.nan
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) and abs(v) < UNSET else math.nan


@dataclass(frozen=True)
class QuoteRow:
    """One line of the Watchlist pane."""

    symbol: str
    bid: float
    ask: float
    last: float
    change: float
    """Last (else mid) minus the previous close."""
    change_pct: float
    """``change`` over the previous close (a fraction)."""
    volume: float
    spark: tuple[float, ...]
    """Intraday prices, one per 5-minute bucket, oldest first."""
    status: str = ""
    """Why there is no quote (``subscribing…``, ``unknown symbol``); empty when streaming."""


def quote_row(
    symbol: str, bid: object, ask: object, last: object, close: object, volume: object,
    spark: Sequence[float] = (), status: str = "",
) -> QuoteRow:  # fmt: skip
    """A row from a ticker's fields (IB's "no value" markers become NaN)."""
    b, a, last_, prev = _num(bid), _num(ask), _num(last), _num(close)
    mark = last_
    if not math.isfinite(mark) and math.isfinite(b) and math.isfinite(a):
        mark = (b + a) / 2
    change = mark - prev if math.isfinite(mark) and math.isfinite(prev) else math.nan
    pct = change / prev if math.isfinite(change) and prev > 0 else math.nan
    return QuoteRow(symbol, b, a, last_, change, pct, _num(volume), tuple(spark), status)


class Line:
    """One symbol's contract, ticker and intraday series."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.contract: Contract | None = None
        self.ticker: Ticker | None = None
        self.opened = False
        """The watchlist opened this market-data line (so removing it cancels it)."""
        self.buckets: dict[int, float] = {}
        self.status = "subscribing…"
        self._on_update: Callable[[object], None] | None = None

    def sample(self, now: float) -> None:
        """Put the last price (else the mid) in the current 5-minute bucket."""
        t = self.ticker
        if t is None:
            return
        price = _num(t.last)
        if not math.isfinite(price):
            b, a = _num(t.bid), _num(t.ask)
            price = (b + a) / 2 if math.isfinite(b) and math.isfinite(a) else math.nan
        if math.isfinite(price):
            self.buckets[int(now // BUCKET)] = price

    def follow(self, now: Callable[[], float]) -> None:
        """Sample the ticker on each of its updates (until :meth:`stop`)."""
        self._on_update = lambda _ticker: self.sample(now())
        self.ticker.updateEvent += self._on_update

    def stop(self) -> None:
        """Stop sampling."""
        if self._on_update is not None and self.ticker is not None:
            self.ticker.updateEvent -= self._on_update
        self._on_update = None

    def seed(self, bucket: int, price: object) -> None:
        """A history point, unless the live feed already filled that bucket."""
        if math.isfinite(_num(price)):
            self.buckets.setdefault(bucket, _num(price))

    def row(self) -> QuoteRow:
        spark = [self.buckets[k] for k in sorted(self.buckets)]
        t = self.ticker
        if t is None:
            return quote_row(self.symbol, None, None, None, None, None, spark, self.status)
        return quote_row(self.symbol, t.bid, t.ask, t.last, t.close, t.volume, spark)


class Watchlist:
    """The watchlist of one console session (see the module docstring)."""

    def __init__(
        self,
        configured: Sequence[str] = (),
        path: Path | None = None,
        *,
        now: Callable[[], float] | None = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.path = path
        self.now = now or (lambda: 0.0)
        self.today = today
        self.problems: list[str] = []
        """Messages about symbols that could not stream (for the Log)."""
        names: list[str] = []
        for text in configured:
            try:
                name = normalise(text, today())
            except WatchlistError as exc:
                self.problems.append(f"[watchlist] symbols: {exc}")
                continue
            if name not in names:
                names.append(name)
        self.configured = tuple(names)
        self.remembered = read_remembered(path) if path is not None else Remembered()
        self.lines = {s: Line(s) for s in self.remembered.apply(self.configured)}
        self.app: TradingApp | None = None
        self.version = 0
        self._tasks: set[asyncio.Task] = set()

    @property
    def symbols(self) -> list[str]:
        """The symbols, in display order."""
        return list(self.lines)

    # ---- the connection ---------------------------------------------------------------
    def attach(self, app: TradingApp) -> None:
        """Subscribe every symbol (in the background) on ``app``."""
        self.app = app
        for line in self.lines.values():
            self._spawn(self._open(line))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_ready(self) -> None:
        """Wait until every pending subscription has been made (tests, scripts)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _resolve(self, symbol: str) -> Contract:
        from livedesk.backend.contracts import ContractError
        from livedesk.backend.manual.symbols import SymbolError, parse_symbol

        try:
            parsed = parse_symbol(symbol.split(), self.today())
            return await self.app.resolve_contract(parsed.contract)
        except (SymbolError, ContractError) as exc:
            raise WatchlistError(f"{symbol}: unknown symbol ({exc})") from exc

    async def _open(self, line: Line) -> None:
        try:
            contract = await self._resolve(line.symbol)
        except WatchlistError as exc:
            line.status = "unknown symbol"
            self.problems.append(str(exc))
            self.version += 1
            return
        except Exception as exc:  # a broken connection: the row says so
            line.status = "no data"
            self.problems.append(f"{line.symbol}: {exc}")
            self.version += 1
            return
        await self._stream(line, contract)

    async def _stream(self, line: Line, contract: Contract) -> None:
        from livedesk.backend.trading.marketdata import contract_key

        app = self.app
        line.contract = contract
        line.opened = contract_key(contract) not in app.market_data.tickers
        line.ticker = await app.ticker(contract)
        line.follow(self.now)  # the sparkline samples every tick, shown or not
        line.status = ""
        self.version += 1
        if self.lines.get(line.symbol) is not line:  # removed meanwhile
            self._close(line)
            return
        await self._history(line)

    async def _history(self, line: Line) -> None:
        """Today's 5-minute closes (a gateway without history leaves the live samples)."""
        app = self.app
        try:
            await app.pacing.acquire()
            bars = await asyncio.wait_for(
                app.ib.reqHistoricalDataAsync(
                    line.contract, "", "1 D", "5 mins", "TRADES", True, formatDate=2
                ),
                10,
            )
        except Exception as exc:
            log.info("no intraday history for %s: %s", line.symbol, exc)
            return
        today = self.today()
        for bar in bars or ():
            when = bar.date
            if isinstance(when, dt.datetime) and _ny_date(when) == today:
                line.seed(int(when.timestamp() // BUCKET), bar.close)
        self.version += 1

    def detach(self) -> None:
        """Stop the background subscriptions and sampling (the session is closing)."""
        for task in list(self._tasks):
            task.cancel()
        for line in self.lines.values():
            line.stop()
        self.app = None

    # ---- keyboard ---------------------------------------------------------------------
    async def add(self, text: str) -> str:
        """Add the symbol ``text`` once the gateway knows it; returns its watchlist name.

        WatchlistError (nothing added, nothing remembered) for bad syntax, a symbol the
        gateway does not know, one already listed, or no connection.
        """
        symbol = normalise(text, self.today())
        if symbol in self.lines:
            raise WatchlistError(f"{symbol} is already in the watchlist")
        if len(self.lines) >= MAX_SYMBOLS:
            raise WatchlistError(f"the watchlist holds at most {MAX_SYMBOLS} symbols")
        if self.app is None:
            raise WatchlistError("not connected: the gateway cannot check the symbol")
        contract = await self._resolve(symbol)
        line = self.lines[symbol] = Line(symbol)
        r = self.remembered
        self._remember(
            Remembered(
                r.added if symbol in self.configured else (*r.added, symbol),
                tuple(s for s in r.removed if s != symbol),
            )
        )
        self.version += 1
        self._spawn(self._stream(line, contract))
        return symbol

    def remove(self, symbol: str) -> bool:
        """Remove ``symbol`` and cancel its market data if the watchlist opened it."""
        line = self.lines.pop(symbol, None)
        if line is None:
            return False
        r = self.remembered
        removed = (*r.removed, symbol) if symbol in self.configured else r.removed
        self._remember(Remembered(tuple(s for s in r.added if s != symbol), removed))
        self._close(line)
        self.version += 1
        return True

    def _close(self, line: Line) -> None:
        line.stop()
        if line.opened and line.contract is not None and self.app is not None:
            self.app.cancel_market_data(line.contract)
        line.opened = False

    def _remember(self, remembered: Remembered) -> None:
        self.remembered = remembered
        if self.path is None:
            return
        try:
            write_remembered(self.path, remembered)
        except OSError as exc:
            log.warning("watchlist not remembered: %s", exc)
            self.problems.append(f"watchlist not remembered: {exc}")

    # ---- the pane ---------------------------------------------------------------------
    def take_problems(self) -> list[str]:
        """Messages not yet shown (for the Log), oldest first."""
        out, self.problems = self.problems, []
        return out

    def contract_of(self, symbol: str) -> Contract | None:
        """The qualified contract of ``symbol`` (None until known)."""
        line = self.lines.get(symbol)
        return line.contract if line is not None else None

    def rows(self) -> list[QuoteRow]:
        """One row per symbol, the live price sampled into the sparkline."""
        now = self.now()
        out = []
        for line in self.lines.values():
            line.sample(now)
            out.append(line.row())
        return out


def _ny_date(when: dt.datetime) -> dt.date:
    from livedesk.backend.console.market_clock import NEW_YORK

    if when.tzinfo is None:
        return when.date()
    return when.astimezone(NEW_YORK).date()
