"""Generic ticks of reqMktData (a mixin of
:class:`~livedesk.backend.sim.clients.session.ClientSession`).

* 233 RTVolume — tickString 48 ``price;size;ms;totalVolume;vwap;singleTrade`` whenever the
  session volume grows (vwap: the session's, from its 1-minute bars);
* 236 shortable — tickGeneric 46 = 3 (easy to borrow) and tickSize 89 shortable shares;
* 456 dividends — tickString 59 ``past12,next12,nextDate,nextAmount``: the model pays none;
* 104 historical volatility — tickGeneric 23, the 30-session realised volatility of the
  stock (of the underlying for an option), annualised;
* 106 implied volatility — tickGeneric 24, the option model's volatility (for a stock:
  that of its 30-day at-the-money option);
* 411 real-time historical volatility — tickGeneric 58, the realised volatility of the
  session's 1-minute closes so far, annualised.

Unknown generic tick numbers are ignored, as TWS does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from livedesk.backend.sim.market.paths import Quote
from livedesk.backend.sim.protocol import messages as m

if TYPE_CHECKING:
    from livedesk.backend.sim.clients.market_requests import MarketDataSub
    from livedesk.backend.sim.gateway import SimGateway

RT_VOLUME, SHORTABLE, DIVIDENDS, HIST_VOL, IMPLIED_VOL, RT_HIST_VOL = 233, 236, 456, 104, 106, 411
SUPPORTED = frozenset({RT_VOLUME, SHORTABLE, DIVIDENDS, HIST_VOL, IMPLIED_VOL, RT_HIST_VOL})
EASY_TO_BORROW = 3.0
SHORTABLE_SHARES = 10_000_000
HIST_VOL_SESSIONS = 30
MINUTES_PER_YEAR = 390 * 252


def parse_generic(text: str) -> frozenset[int]:
    """The supported generic tick numbers in a comma-separated list."""
    out = set()
    for part in text.split(","):
        part = part.strip()
        if part.isdigit() and int(part) in SUPPORTED:
            out.add(int(part))
    return frozenset(out)


class GenericTicks:
    """Pushes the generic ticks a subscription asked for; the session supplies ``gw`` and
    ``send``."""

    gw: SimGateway

    def push_generic(self, req_id: int, sub: MarketDataSub, now: float, q: Quote) -> None:
        inst = sub.inst
        sent = sub.sent
        if RT_VOLUME in sub.generic and q.volume != sent.get("rtvolume"):
            traded = q.volume - sent.get("rtvolume", q.volume - q.last_size)
            sent["rtvolume"] = q.volume
            vwap = self._session_vwap(inst.con_id, now, q.last)
            value = f"{q.last};{max(traded, 0)};{int(now * 1000)};{q.volume};{vwap:.8f};true"
            self.send(m.tick_string(req_id, 48, value))
        day = self.gw.market.session
        if sent.get("generic-day") == day:
            return
        sent["generic-day"] = day  # once a session: values that do not move within it
        stock_id = inst.underlying_con_id if inst.sec_type == "OPT" else inst.con_id
        if SHORTABLE in sub.generic:
            self.send(m.tick_generic(req_id, 46, EASY_TO_BORROW))
            self.send(
                m.tick_size(req_id, 89, SHORTABLE_SHARES, proto=self.proto, sec_type=inst.sec_type)
            )
        if DIVIDENDS in sub.generic:
            self.send(m.tick_string(req_id, 59, "0,0,,"))
        if HIST_VOL in sub.generic:
            self.send(m.tick_generic(req_id, 23, self.historical_vol(stock_id)))
        if IMPLIED_VOL in sub.generic:
            self.send(m.tick_generic(req_id, 24, self.implied_vol(sub, now)))
        if RT_HIST_VOL in sub.generic:
            self.send(m.tick_generic(req_id, 58, self.rt_historical_vol(stock_id, now)))

    def historical_vol(self, con_id: int) -> float:
        """Annualised volatility of the last 30 daily log returns."""
        closes = np.asarray(self.gw.market.daily_bars(con_id)["close"], dtype=float)
        returns = np.diff(np.log(closes[-(HIST_VOL_SESSIONS + 1) :]))
        return float(np.std(returns, ddof=1) * math.sqrt(252)) if len(returns) > 1 else 0.0

    def implied_vol(self, sub: MarketDataSub, now: float) -> float:
        pricer = self.gw.market.options_pricer
        if pricer is None:
            return 0.0
        if sub.inst.sec_type == "OPT":
            return float(pricer.state(sub.inst, now).vol)
        return float(pricer.base_vol(sub.inst.con_id))

    def rt_historical_vol(self, con_id: int, now: float) -> float:
        """Annualised volatility of the session's 1-minute closes up to ``now``."""
        bars = self.gw.history.bars(con_id, now, "1 D", "1 min", now)
        closes = np.array([b.close for b in bars], dtype=float)
        if len(closes) < 3:
            return 0.0
        returns = np.diff(np.log(closes))
        return float(np.std(returns, ddof=1) * math.sqrt(MINUTES_PER_YEAR))

    def _session_vwap(self, con_id: int, now: float, last: float) -> float:
        bars = self.gw.history.bars(con_id, now, "1 D", "1 hour", now)
        volume = sum(b.volume for b in bars)
        return sum(b.wap * b.volume for b in bars) / volume if volume > 0 else last
