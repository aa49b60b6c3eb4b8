"""Contract factories, combo specs and the pure parts of contract resolution.

The factories build unqualified ib_async contracts; ``TradingApp.resolve_contract``
qualifies them through ``reqContractDetails`` and uses ``front_month`` (futures without
a month) and ``build_bag`` (spreads, once every leg has a conId) from here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ib_async import Bag, ComboLeg, Contract, ContractDetails, Future, Option, Stock

ACTIONS = ("BUY", "SELL")
NEW_YORK = ZoneInfo("America/New_York")
RIGHTS = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}
_OPTION_TYPES = ("OPT", "FOP")
_DATED_TYPES = ("OPT", "FOP", "FUT")


class ContractError(ValueError):
    """A contract could not be built, resolved or combined."""


class UnknownContract(ContractError):
    """IB knows no contract matching the query."""

    def __init__(self, query: str, detail: str = ""):
        self.query = query
        self.candidates: list = []
        super().__init__(f"unknown contract: {query}" + (f" ({detail})" if detail else ""))


class AmbiguousContract(ContractError):
    """Several contracts match the query; ``candidates`` lists them."""

    def __init__(self, query: str, candidates: Sequence[Contract | str]):
        self.query = query
        self.candidates = list(candidates)
        labels = "; ".join(_candidate_label(c) for c in self.candidates)
        super().__init__(
            f"ambiguous contract {query}: {len(self.candidates)} candidates: {labels}. "
            "Add an exchange, primary exchange, currency or month to pick one."
        )


class ComboError(ContractError):
    """A spread is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("invalid combo: " + "; ".join(self.problems))


# --------------------------------------------------------------------------- factories


def _check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise ContractError(f"symbol must be a non-empty string, got {symbol!r}")
    return symbol.strip().upper()


def stock(
    symbol: str, exchange: str = "SMART", currency: str = "USD", primary_exchange: str = ""
) -> Stock:
    """A stock, routed SMART in USD unless told otherwise."""
    return Stock(_check_symbol(symbol), exchange, currency, primaryExchange=primary_exchange)


def future(
    symbol: str, month: str | None = None, exchange: str = "NYMEX", currency: str = "USD"
) -> Future:
    """A future; ``month`` is ``YYYYMM`` (or ``YYYYMMDD``), None means the front month."""
    if month is not None:
        if not isinstance(month, str) or not re.fullmatch(r"\d{6}(\d{2})?", month):
            raise ContractError(f"future month must be YYYYMM or YYYYMMDD, got {month!r}")
        _parse_expiry(month)
    return Future(_check_symbol(symbol), month or "", exchange, currency=currency)


def option(
    symbol: str,
    expiry: str,
    strike: float,
    right: str,
    exchange: str = "SMART",
    currency: str = "USD",
    multiplier: str = "100",
) -> Option:
    """An option: ``expiry`` ``YYYYMMDD``, ``right`` C/P (CALL/PUT accepted)."""
    if not isinstance(expiry, str) or not re.fullmatch(r"\d{8}", expiry):
        raise ContractError(f"option expiry must be YYYYMMDD, got {expiry!r}")
    _parse_expiry(expiry)
    if isinstance(strike, bool) or not isinstance(strike, int | float) or not strike > 0:
        raise ContractError(f"option strike must be a number > 0, got {strike!r}")
    if not math.isfinite(strike):
        raise ContractError(f"option strike must be finite, got {strike!r}")
    norm_right = RIGHTS.get(str(right).upper())
    if norm_right is None:
        raise ContractError(f"option right must be C or P, got {right!r}")
    return Option(
        _check_symbol(symbol),
        expiry,
        float(strike),
        norm_right,
        exchange,
        multiplier=multiplier,
        currency=currency,
    )


@dataclass(frozen=True)
class LegSpec:
    """One leg of a spread before resolution: ``ratio`` units, bought or sold."""

    contract: Contract
    ratio: int
    action: str


@dataclass(frozen=True)
class ComboSpec:
    """A spread to resolve: each leg gets a conId, then ``build_bag`` makes the BAG."""

    legs: tuple[LegSpec, ...]
    exchange: str = "SMART"


def combo_leg(contract: Contract, ratio: int, action: str) -> LegSpec:
    """A validated spread leg (ratio an int >= 1, action BUY or SELL)."""
    if not isinstance(contract, Contract):
        raise ContractError(f"combo leg needs an ib_async Contract, got {contract!r}")
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        raise ContractError(f"combo leg ratio must be an integer >= 1, got {ratio!r}")
    if not isinstance(action, str) or action.upper() not in ACTIONS:
        raise ContractError(f"combo leg action must be BUY or SELL, got {action!r}")
    return LegSpec(contract, ratio, action.upper())


def spread(legs: Sequence[LegSpec], exchange: str = "SMART") -> ComboSpec:
    """A spread of ``combo_leg`` legs; resolved into a BAG by ``TradingApp.resolve_contract``."""
    legs = tuple(legs)
    if not legs:
        raise ComboError(["a spread needs at least one leg"])
    bad = [repr(leg) for leg in legs if not isinstance(leg, LegSpec)]
    if bad:
        raise ComboError([f"not a combo_leg(...): {b}" for b in bad])
    return ComboSpec(legs, exchange)


# --------------------------------------------------------------------------- resolution


def new_york_today(now: dt.datetime | None = None) -> dt.date:
    """The trading date: today's date in New York (US contracts expire and DAY orders end
    by it), whatever the local time zone. ``now`` must be aware when given."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(NEW_YORK).date()


def _parse_expiry(text: str) -> dt.date:
    """Last day a dated contract trades: ``YYYYMMDD`` or the end of a ``YYYYMM`` month."""
    digits = text.strip()[:8]
    try:
        if len(digits) >= 8 and digits[:8].isdigit():
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        if len(digits) == 6 and digits.isdigit():
            year, month = int(digits[:4]), int(digits[4:6])
            return dt.date(year, month, calendar.monthrange(year, month)[1])
    except ValueError as exc:
        raise ContractError(f"invalid expiry {text!r}: {exc}") from None
    raise ContractError(f"invalid expiry {text!r}: expected YYYYMM or YYYYMMDD")


def _details_expiry(details: ContractDetails) -> dt.date | None:
    text = details.realExpirationDate or (
        details.contract.lastTradeDateOrContractMonth if details.contract else ""
    )
    return _parse_expiry(text) if text else None


def front_month(details: Sequence[ContractDetails], today: dt.date) -> ContractDetails:
    """The nearest future that has not expired by ``today`` (expiring today still counts)."""
    dated = [(exp, d) for d in details if (exp := _details_expiry(d)) is not None]
    live = [(exp, d) for exp, d in dated if exp >= today]
    if not live:
        query = details[0].contract.symbol + " FUT" if details and details[0].contract else "FUT"
        raise UnknownContract(query, f"no unexpired contract on or after {today.isoformat()}")
    nearest = min(exp for exp, _ in live)
    tied = [d for exp, d in live if exp == nearest]
    if len(tied) > 1:
        raise AmbiguousContract(describe(tied[0].contract), [d.contract for d in tied])
    return tied[0]


def _leg_problems(
    index: int, contract: Contract, ratio: object, action: object, today: dt.date
) -> list[str]:
    name = f"leg {index + 1} ({describe(contract)})"
    problems = []
    if not contract.conId or contract.conId <= 0:
        problems.append(f"{name} has no conId (resolve it first)")
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        problems.append(f"{name} ratio must be an integer >= 1, got {ratio!r}")
    if action not in ACTIONS:
        problems.append(f"{name} action must be BUY or SELL, got {action!r}")
    if contract.secType in _OPTION_TYPES:
        if not contract.strike or contract.strike <= 0:
            problems.append(f"{name} strike must be > 0, got {contract.strike!r}")
        if RIGHTS.get(contract.right.upper()) is None:
            problems.append(f"{name} right must be C or P, got {contract.right!r}")
    if contract.secType in _DATED_TYPES:
        expiry_text = contract.lastTradeDateOrContractMonth
        try:
            if _parse_expiry(expiry_text) < today:
                problems.append(f"{name} expired on {expiry_text} (today {today.isoformat()})")
        except ContractError as exc:
            problems.append(f"{name}: {exc}")
    return problems


def build_bag(
    resolved_legs: Sequence[tuple[Contract, int, str]],
    today: dt.date,
    exchange: str = "SMART",
    allow_mixed_symbols: bool = False,
) -> Contract:
    """A BAG contract from resolved ``(contract, ratio, action)`` legs.

    Raises ComboError listing every problem: no legs, missing or duplicate conIds, bad
    ratios or actions, mixed currencies, mixed underlyings (unless allowed), non-positive
    strikes, expired legs.
    """
    if not resolved_legs:
        raise ComboError(["a combo needs at least one leg"])
    problems: list[str] = []
    for i, (contract, ratio, action) in enumerate(resolved_legs):
        problems += _leg_problems(i, contract, ratio, action, today)
    con_ids = [c.conId for c, _, _ in resolved_legs if c.conId]
    dupes = sorted({cid for cid in con_ids if con_ids.count(cid) > 1})
    if dupes:
        problems.append(f"duplicate leg conIds: {', '.join(map(str, dupes))}")
    currencies = sorted({c.currency for c, _, _ in resolved_legs})
    if len(currencies) > 1 or not currencies[0]:
        problems.append(f"legs must share one currency, got {currencies}")
    symbols = sorted({c.symbol for c, _, _ in resolved_legs})
    if len(symbols) > 1 and not allow_mixed_symbols:
        problems.append(
            f"legs have different underlyings {symbols}; pass allow_mixed_symbols=True "
            "for an inter-commodity spread"
        )
    if problems:
        raise ComboError(problems)
    return Bag(
        symbol=",".join(symbols),
        exchange=exchange,
        currency=currencies[0],
        comboLegs=[
            ComboLeg(conId=c.conId, ratio=ratio, action=action, exchange=exchange)
            for c, ratio, action in resolved_legs
        ],
    )


# --------------------------------------------------------------------------- labels


def multiplier_of(contract: Contract) -> float:
    """The contract multiplier as a number (1 when IB leaves it empty)."""
    text = str(contract.multiplier or "").strip()
    try:
        value = float(text) if text else 1.0
    except ValueError:
        raise ContractError(
            f"contract multiplier {contract.multiplier!r} is not a number"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise ContractError(f"contract multiplier must be > 0, got {contract.multiplier!r}")
    return value


def _strike(strike: float) -> str:
    return f"{strike:g}" if strike != int(strike) else str(int(strike))


def _leg_label(contract: Contract, show_expiry: bool) -> str:
    if contract.secType in _OPTION_TYPES:
        label = f"{RIGHTS.get(contract.right.upper(), contract.right)}{_strike(contract.strike)}"
        return f"{label} {contract.lastTradeDateOrContractMonth}" if show_expiry else label
    if contract.secType == "FUT":
        return contract.lastTradeDateOrContractMonth[:6] or "FUT"
    return contract.secType or "?"


def describe(contract: Contract, legs: Mapping[int, Contract] | None = None) -> str:
    """A short human label: "AAPL STK", "CL 202612 FUT", "SPY 20261218 450 C",
    "BAG SPY: +1 C450 +1 P450" (legs by conId; unknown legs show as "#conId")."""
    sec = contract.secType
    if sec in _OPTION_TYPES:
        text = f"{contract.symbol} {contract.lastTradeDateOrContractMonth} "
        text += f"{_strike(contract.strike)} {RIGHTS.get(contract.right.upper(), contract.right)}"
        return text if sec == "OPT" else f"{text} FOP"
    if sec == "FUT":
        month = contract.lastTradeDateOrContractMonth[:6]
        return f"{contract.symbol} {month} FUT" if month else f"{contract.symbol} FUT"
    if sec == "BAG":
        legs = legs or {}
        known = [legs[leg.conId] for leg in contract.comboLegs if leg.conId in legs]
        show_expiry = len({c.lastTradeDateOrContractMonth for c in known}) > 1
        parts = []
        for leg in contract.comboLegs:
            sign = "+" if leg.action == "BUY" else "-"
            leg_contract = legs.get(leg.conId)
            name = _leg_label(leg_contract, show_expiry) if leg_contract else f"#{leg.conId}"
            parts.append(f"{sign}{leg.ratio} {name}")
        return f"BAG {contract.symbol}: {' '.join(parts)}"
    return f"{contract.symbol} {sec}".strip()


def _candidate_label(candidate: Contract | str) -> str:
    if isinstance(candidate, str):
        return candidate
    where = candidate.primaryExchange or candidate.exchange
    extras = " ".join(x for x in (where, candidate.currency) if x)
    return f"{describe(candidate)} {extras} conId={candidate.conId}".replace("  ", " ")
