"""Pure combo maths of the combo builder: legs, templates, stepping, validation and words.

A combo is a tuple of :class:`Leg` sent as one BAG that is always *bought*: IB prices a BAG
as ``sum(sign * ratio * leg price)`` (sign +1 for a BUY leg), so a combo that takes in
money has a negative net price and is sent as BUY at a negative limit. The words shown
to the trader follow the desk's habit instead: a negative net price reads "SELL ... @ 3.15
CREDIT", a positive one "BUY ... @ 4.20 DEBIT". Both the words and the signed limit are shown.

Payoff, breakevens and greeks live in :mod:`livedesk.backend.combos.payoff`. Nothing here
talks to the gateway or imports Textual.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

TICK = 0.01
PREVIEW_TTL = 30.0
"""Seconds a preview stays valid for sending."""

DEFAULT_UNDERLYINGS = ("SPY", "AAPL", "MSFT", "NVDA", "AMZN", "JPM", "XOM", "PSX")
"""Optionable symbols offered for completion before the gateway has told us of others."""

TEMPLATES: dict[str, str] = {
    "s": "straddle",
    "g": "strangle",
    "v": "call vertical",
    "p": "put vertical",
    "i": "iron condor",
    "b": "butterfly",
    "l": "calendar",
    "c": "custom",
}
"""Template key (after ``t``) → template name."""


class ComboBuildError(ValueError):
    """A template or an edit cannot be applied (the legs are left unchanged)."""


@dataclass(frozen=True)
class Leg:
    """One option leg: ``ratio`` contracts of ``symbol expiry strike right``, bought or sold."""

    action: str
    ratio: int
    right: str
    strike: float
    expiry: str
    symbol: str

    @property
    def sign(self) -> int:
        """+1 for a BUY leg, -1 for a SELL leg."""
        return 1 if self.action == "BUY" else -1

    @property
    def key(self) -> tuple[str, str, float, str]:
        """The listed option this leg trades: (symbol, expiry, strike, right)."""
        return (self.symbol, self.expiry, self.strike, self.right)

    def label(self) -> str:
        """E.g. "+1 SPY 20261218 560 P"."""
        sign = "+" if self.sign > 0 else "-"
        return (
            f"{sign}{self.ratio} {self.symbol} {self.expiry} {fmt_strike(self.strike)} {self.right}"
        )


@dataclass(frozen=True)
class Chain:
    """The listed options of one underlying (from ``reqSecDefOptParams``)."""

    symbol: str
    expiries: tuple[str, ...]
    strikes: tuple[float, ...]
    multiplier: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "expiries", tuple(sorted(set(self.expiries))))
        object.__setattr__(self, "strikes", tuple(sorted({float(k) for k in self.strikes})))

    def strike_index(self, strike: float) -> int:
        """Index of ``strike`` in the chain; ComboBuildError when it is not listed."""
        for i, k in enumerate(self.strikes):
            if abs(k - strike) < 1e-9:
                return i
        raise ComboBuildError(f"strike {fmt_strike(strike)} is not in the {self.symbol} chain")

    def atm_index(self, spot: float) -> int:
        """Index of the strike nearest ``spot`` (the lower one on a tie)."""
        if not self.strikes:
            raise ComboBuildError(f"the {self.symbol} chain lists no strikes")
        return min(range(len(self.strikes)), key=lambda i: (abs(self.strikes[i] - spot), i))


def fmt_strike(strike: float) -> str:
    """560 → "560", 562.5 → "562.5"."""
    return str(int(strike)) if float(strike).is_integer() else f"{strike:g}"


def days_to(expiry: str, today: dt.date) -> int:
    """Calendar days from ``today`` to ``expiry`` (YYYYMMDD)."""
    return (dt.datetime.strptime(expiry, "%Y%m%d").date() - today).days


def default_expiry(expiries: Sequence[str], today: dt.date) -> str:
    """The first expiry 20 to 45 days out, else the one nearest 30 days (not expired)."""
    live = [e for e in sorted(expiries) if days_to(e, today) >= 0]
    if not live:
        raise ComboBuildError("the chain lists no unexpired expiry")
    for e in live:
        if 20 <= days_to(e, today) <= 45:
            return e
    return min(live, key=lambda e: abs(days_to(e, today) - 30))


def step_in(values: Sequence, current, n: int, what: str):
    """The value ``n`` places from ``current`` in ``values``; ComboBuildError past either end."""
    try:
        i = list(values).index(current)
    except ValueError:
        raise ComboBuildError(f"{what} {current} is not listed") from None
    j = i + n
    if not 0 <= j < len(values):
        edge = "highest" if n > 0 else "lowest"
        raise ComboBuildError(f"{what} {current} is already the {edge} listed")
    return values[j]


# --------------------------------------------------------------------------- templates


def default_width(chain: Chain, spot: float) -> int:
    """Template width in strike steps: about 1 % of the underlying, at least one step."""
    if len(chain.strikes) < 2:
        return 1
    i = chain.atm_index(spot)
    step = chain.strikes[min(i + 1, len(chain.strikes) - 1)] - chain.strikes[max(i - 1, 0)]
    step = step / (min(i + 1, len(chain.strikes) - 1) - max(i - 1, 0))
    return max(1, round(spot * 0.01 / step))


def make_template(
    name: str, chain: Chain, spot: float, expiry: str, width: int | None = None
) -> tuple[Leg, ...]:
    """The legs of template ``name`` around the money (width in strike steps).

    straddle: +C +P at the money; strangle: +P at ATM-w, +C at ATM+w; call vertical: +C ATM,
    -C ATM+w; put vertical: +P ATM, -P ATM-w; iron condor (short): +P ATM-3w, -P ATM-2w,
    -C ATM+2w, +C ATM+3w; butterfly (long calls): +1 C ATM-w, -2 C ATM, +1 C ATM+w; calendar:
    -C ATM this expiry, +C ATM the next expiry; custom: +C ATM.
    """
    if name not in TEMPLATES.values():
        raise ComboBuildError(f"unknown template {name!r}")
    if expiry not in chain.expiries:
        raise ComboBuildError(f"expiry {expiry} is not in the {chain.symbol} chain")
    w = width if width is not None else default_width(chain, spot)
    atm = chain.atm_index(spot)
    sym = chain.symbol

    def leg(action: str, right: str, offset: int, ratio: int = 1, exp: str = expiry) -> Leg:
        i = atm + offset
        if not 0 <= i < len(chain.strikes):
            raise ComboBuildError(
                f"the {sym} chain is too narrow for a {name} {w} strikes wide around the money"
            )
        return Leg(action, ratio, right, chain.strikes[i], exp, sym)

    if name == "straddle":
        return (leg("BUY", "C", 0), leg("BUY", "P", 0))
    if name == "strangle":
        return (leg("BUY", "P", -w), leg("BUY", "C", w))
    if name == "call vertical":
        return (leg("BUY", "C", 0), leg("SELL", "C", w))
    if name == "put vertical":
        return (leg("BUY", "P", 0), leg("SELL", "P", -w))
    if name == "iron condor":
        return (
            leg("BUY", "P", -3 * w),
            leg("SELL", "P", -2 * w),
            leg("SELL", "C", 2 * w),
            leg("BUY", "C", 3 * w),
        )
    if name == "butterfly":
        return (leg("BUY", "C", -w), leg("SELL", "C", 0, 2), leg("BUY", "C", w))
    if name == "calendar":
        later = [e for e in chain.expiries if e > expiry]
        if not later:
            raise ComboBuildError(f"a calendar needs an expiry after {expiry}")
        return (leg("SELL", "C", 0), leg("BUY", "C", 0, exp=later[0]))
    return (leg("BUY", "C", 0),)


# --------------------------------------------------------------------------- edits


def _replace_at(legs: Sequence[Leg], i: int, new: Leg) -> tuple[Leg, ...]:
    if not 0 <= i < len(legs):
        raise ComboBuildError("no leg selected")
    out = list(legs)
    out[i] = new
    return tuple(out)


def add_leg(
    legs: Sequence[Leg], chain: Chain, spot: float, expiry: str, action: str
) -> tuple[Leg, ...]:
    """Append a ``action`` call at the money (the next free strike up when that one is used)."""
    used = {leg.key for leg in legs}
    for i in range(chain.atm_index(spot), len(chain.strikes)):
        new = Leg(action, 1, "C", chain.strikes[i], expiry, chain.symbol)
        if new.key not in used:
            return (*legs, new)
    raise ComboBuildError("no free call strike at or above the money to add a leg")


def delete_leg(legs: Sequence[Leg], i: int) -> tuple[Leg, ...]:
    """Remove leg ``i``."""
    if not 0 <= i < len(legs):
        raise ComboBuildError("no leg to delete")
    return tuple(leg for j, leg in enumerate(legs) if j != i)


def flip_side(legs: Sequence[Leg], i: int) -> tuple[Leg, ...]:
    """BUY ↔ SELL on leg ``i``."""
    leg = legs[i] if 0 <= i < len(legs) else None
    if leg is None:
        raise ComboBuildError("no leg selected")
    return _replace_at(legs, i, replace(leg, action="SELL" if leg.action == "BUY" else "BUY"))


def change_ratio(legs: Sequence[Leg], i: int, n: int) -> tuple[Leg, ...]:
    """Ratio of leg ``i`` plus ``n`` (it may reach 0 or -1; validation then says why not)."""
    if not 0 <= i < len(legs):
        raise ComboBuildError("no leg selected")
    return _replace_at(legs, i, replace(legs[i], ratio=max(legs[i].ratio + n, -1)))


def toggle_right(legs: Sequence[Leg], i: int, right: str) -> tuple[Leg, ...]:
    """Leg ``i`` becomes a call (``"C"``) or a put (``"P"``)."""
    if not 0 <= i < len(legs):
        raise ComboBuildError("no leg selected")
    return _replace_at(legs, i, replace(legs[i], right=right))


def step_strike(legs: Sequence[Leg], i: int, chain: Chain, n: int) -> tuple[Leg, ...]:
    """Leg ``i`` moved ``n`` strikes through the chain's strikes."""
    if not 0 <= i < len(legs):
        raise ComboBuildError("no leg selected")
    leg = legs[i]
    strike = chain.strikes[_step_index(chain, leg.strike, n)]
    return _replace_at(legs, i, replace(leg, strike=strike))


def _step_index(chain: Chain, strike: float, n: int) -> int:
    j = chain.strike_index(strike) + n
    if not 0 <= j < len(chain.strikes):
        edge = "highest" if n > 0 else "lowest"
        raise ComboBuildError(f"strike {fmt_strike(strike)} is already the {edge} in the chain")
    return j


def shift_strikes(legs: Sequence[Leg], chain: Chain, n: int) -> tuple[Leg, ...]:
    """Every leg moved ``n`` strikes together (nothing moves if one would leave the chain)."""
    if not legs:
        raise ComboBuildError("no legs to shift")
    return tuple(
        replace(leg, strike=chain.strikes[_step_index(chain, leg.strike, n)]) for leg in legs
    )


def change_width(legs: Sequence[Leg], chain: Chain, n: int) -> tuple[Leg, ...]:
    """Widen (``n`` > 0) or narrow the combo by ``n`` strike steps.

    With two distinct strikes (verticals, strangles) the upper strike moves; with three or
    more (butterflies, condors) the lowest moves down and the highest up (the wings). A
    combo of one strike (straddle, calendar) has no width. Narrowing never lets a moving
    strike reach its neighbour.
    """
    distinct = sorted({leg.strike for leg in legs})
    if len(distinct) < 2:
        raise ComboBuildError("this combo has a single strike: it has no width")
    moves = {distinct[-1]: n} if len(distinct) == 2 else {distinct[0]: -n, distinct[-1]: n}
    new = {k: chain.strikes[_step_index(chain, k, d)] for k, d in moves.items()}
    if len(distinct) == 2:
        if new[distinct[-1]] <= distinct[0]:
            raise ComboBuildError("the combo cannot be narrower than one strike")
    elif new[distinct[0]] >= distinct[1] or new[distinct[-1]] <= distinct[-2]:
        raise ComboBuildError("the wings cannot be narrower than one strike")
    return tuple(replace(leg, strike=new.get(leg.strike, leg.strike)) for leg in legs)


def shift_expiries(legs: Sequence[Leg], chain: Chain, n: int) -> tuple[Leg, ...]:
    """Every leg moved ``n`` expiries (a calendar keeps its spacing)."""
    return tuple(
        replace(leg, expiry=step_in(chain.expiries, leg.expiry, n, "expiry")) for leg in legs
    )


def step_leg_expiry(legs: Sequence[Leg], i: int, chain: Chain, n: int) -> tuple[Leg, ...]:
    """Leg ``i`` moved ``n`` expiries (calendars and diagonals)."""
    if not 0 <= i < len(legs):
        raise ComboBuildError("no leg selected")
    leg = legs[i]
    return _replace_at(
        legs, i, replace(leg, expiry=step_in(chain.expiries, leg.expiry, n, "expiry"))
    )


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Problem:
    """Why the combo cannot be sent, and where to show it.

    ``field`` is one of "underlying", "legs", "expiry", "quantity", "price", "quotes",
    "state"; ``leg`` is the 0-based leg index for per-leg problems.
    """

    field: str
    message: str
    leg: int | None = None


def validate_legs(
    legs: Sequence[Leg], chains: Mapping[str, Chain], today: dt.date, template: str = "custom"
) -> list[Problem]:
    """Every reason the legs are not a sendable combo (empty when they are)."""
    if not legs:
        return [Problem("legs", "no legs: add one with b or s, or pick a template with t")]
    out: list[Problem] = []
    symbols = sorted({leg.symbol for leg in legs})
    if len(symbols) > 1:
        out.append(Problem("legs", f"legs on different underlyings: {', '.join(symbols)}"))
    seen: dict[tuple, int] = {}
    for i, leg in enumerate(legs):
        name = f"leg {i + 1}"
        chain = chains.get(leg.symbol)
        if leg.ratio < 1:
            out.append(Problem("legs", f"{name}: ratio must be 1 or more, got {leg.ratio}", i))
        if chain is None:
            out.append(Problem("legs", f"{name}: no option chain known for {leg.symbol}", i))
            continue
        if leg.expiry not in chain.expiries:
            out.append(Problem("expiry", f"{name}: unknown expiry {leg.expiry}", i))
        elif days_to(leg.expiry, today) < 0:
            out.append(Problem("expiry", f"{name}: expiry {leg.expiry} has passed", i))
        if not any(abs(k - leg.strike) < 1e-9 for k in chain.strikes):
            out.append(
                Problem("legs", f"{name}: strike {fmt_strike(leg.strike)} is not in the chain", i)
            )
        if leg.key in seen:
            out.append(Problem("legs", f"{name} duplicates leg {seen[leg.key] + 1}", i))
        else:
            seen[leg.key] = i
    return out + shape_problems(legs, template)


def shape_problems(legs: Sequence[Leg], template: str) -> list[Problem]:
    """Template-specific structure: crossed or unequal strikes, wrong rights or counts."""
    k = [leg.strike for leg in legs]
    r = [leg.right for leg in legs]

    def bad(msg: str) -> list[Problem]:
        return [Problem("legs", f"{template}: {msg}")]

    if template == "iron condor":
        if len(legs) != 4 or r != ["P", "P", "C", "C"]:
            return bad("needs 4 legs: put, put, call, call from the lowest strike up")
        if not (k[0] < k[1] <= k[2] < k[3]):
            return bad(f"strikes crossed: {'/'.join(fmt_strike(x) for x in k)}")
        if abs((k[1] - k[0]) - (k[3] - k[2])) > 1e-9:
            return bad(f"unequal wings: {k[1] - k[0]:g} and {k[3] - k[2]:g}")
        if not (legs[0].sign == legs[3].sign == -legs[1].sign == -legs[2].sign):
            return bad("the wings must be on the other side of the body")
    elif template == "butterfly":
        if len(legs) != 3 or len(set(r)) != 1:
            return bad("needs 3 legs of one right (wing, body, wing)")
        if not (k[0] < k[1] < k[2]):
            return bad(f"strikes crossed: {'/'.join(fmt_strike(x) for x in k)}")
        if abs((k[1] - k[0]) - (k[2] - k[1])) > 1e-9:
            return bad(f"unequal wings: {k[1] - k[0]:g} and {k[2] - k[1]:g}")
        if legs[1].ratio != legs[0].ratio + legs[2].ratio or legs[0].sign != legs[2].sign:
            return bad("the body must be 2x and on the other side of the wings")
        if legs[1].sign == legs[0].sign:
            return bad("the body must be on the other side of the wings")
    elif template in ("call vertical", "put vertical"):
        right = "C" if template == "call vertical" else "P"
        if len(legs) != 2 or r != [right, right]:
            return bad(f"needs two {'calls' if right == 'C' else 'puts'}")
        if k[0] == k[1]:
            return bad("needs two different strikes")
    elif template == "strangle":
        if len(legs) != 2 or r != ["P", "C"]:
            return bad("needs a put and a call")
        if not k[0] < k[1]:
            return bad(f"strikes crossed: put {fmt_strike(k[0])} ≥ call {fmt_strike(k[1])}")
    elif template == "straddle":
        if len(legs) != 2 or sorted(r) != ["C", "P"] or k[0] != k[1]:
            return bad("needs a call and a put at one strike")
    elif template == "calendar":
        if len(legs) != 2 or k[0] != k[1] or r[0] != r[1]:
            return bad("needs two legs of one strike and right")
        if legs[0].expiry == legs[1].expiry:
            return bad("needs two different expiries")
    return []


def collar_problem(limit: float, mid: float, collar: float, min_combo_collar: float) -> str | None:
    """The pre-trade guard's BAG collar in words: ``|limit - mid| <= max(collar*|mid|, min)``.

    E.g. "limit -9.00 is 6.00 from the mid -3.00; the guard allows 0.45 (15 % of the mid)",
    or "... allows 0.10 (its minimum for combos)" when the floor is the larger.
    """
    by_pct = collar * abs(mid)
    allowed = max(by_pct, min_combo_collar)
    if abs(limit - mid) > allowed + 1e-12:
        why = (
            f"{collar * 100:g} % of the mid"
            if by_pct >= min_combo_collar
            else ("its minimum for combos")
        )
        return (
            f"limit {limit:.2f} is {abs(limit - mid):.2f} from the mid {mid:.2f}; "
            f"the guard allows {allowed:.2f} ({why})"
        )
    return None


# --------------------------------------------------------------------------- prices and words


def is_number(x: float | None) -> bool:
    """A finite float (quotes use NaN for "missing")."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def round_tick(x: float, tick: float = TICK) -> float:
    """``x`` on the tick grid."""
    return round(round(x / tick) * tick, 10)


def price_words(net: float) -> str:
    """A signed BAG price in words: -3.15 → "3.15 CREDIT", 4.2 → "4.20 DEBIT"."""
    if not is_number(net):
        return "n/a"
    if abs(net) < TICK / 2:
        return "0.00 EVEN"
    return f"{abs(net):.2f} {'CREDIT' if net < 0 else 'DEBIT'}"


@dataclass(frozen=True)
class ComboOrder:
    """The order the builder would send: a BUY of the BAG of ``legs`` at ``limit``.

    ``limit`` is the signed BAG limit (negative for a credit); None for a market order.
    ``reference`` is the mid when the order was made (words for a market order).
    """

    legs: tuple[Leg, ...]
    quantity: int
    order_type: str
    limit: float | None
    template: str = "custom"
    tag: str = "manual"
    reference: float | None = None

    def words(self) -> str:
        """E.g. "SELL 1 SPY iron condor 20261218 560/570/610/620 @ 3.15 CREDIT"."""
        price = self.limit if self.order_type == "LMT" else self.reference
        side = "SELL" if is_number(price) and price < 0 else "BUY"
        symbols = sorted({leg.symbol for leg in self.legs})
        expiries = sorted({leg.expiry for leg in self.legs})
        strikes = "/".join(fmt_strike(k) for k in sorted({leg.strike for leg in self.legs}))
        name = "combo" if self.template == "custom" else self.template
        what = f"{side} {self.quantity} {','.join(symbols)} {name} {'/'.join(expiries)} {strikes}"
        if self.order_type == "MKT":
            ref = f" (mid {price_words(price)})" if is_number(price) else ""
            return f"{what} @ MKT{ref}"
        return f"{what} @ {price_words(price)}"


def preview_problem(
    created: float | None, previewed_version: int | None, current_version: int, now: float
) -> str | None:
    """Why a preview cannot be sent now (None when it can): none made, an edit since, too old."""
    if created is None or previewed_version is None:
        return "no preview: press enter to preview the order first"
    if previewed_version != current_version:
        return "the combo changed since the preview: press enter for a new preview"
    age = now - created
    if age >= PREVIEW_TTL:
        return f"preview is {age:.0f} s old (valid {PREVIEW_TTL:.0f} s): press enter for a new one"
    return None
