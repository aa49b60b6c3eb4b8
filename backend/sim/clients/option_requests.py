"""Option calculations and exercise of a client session (a mixin of
:class:`~livedesk.backend.sim.clients.session.ClientSession`).

``calculateOptionPrice`` / ``calculateImpliedVolatility`` price with the option model's
Black-Scholes (:mod:`livedesk.backend.sim.market.blackscholes`) at its rate and time to the
expiry close, at the volatility or price and underlying price the client gives, and answer
with a tickOptionComputation of type 53 (custom computation) on the request id.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from livedesk.backend.sim.broker.exercise import exercise
from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market import blackscholes as bs
from livedesk.backend.sim.market.options import RATE, YEAR
from livedesk.backend.sim.protocol import data_requests as dr
from livedesk.backend.sim.protocol import messages as m

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

CUST_OPTION_COMPUTATION = 53


class OptionRequests:
    """calculateImpliedVolatility, calculateOptionPrice and exerciseOptions."""

    gw: SimGateway

    def on_calc_option_price(self, req: dr.CalcOptionPrice) -> None:
        found = self._option(req)
        if found is None:
            return
        inst, years = found
        vol, s = req.volatility, req.under_price
        if not (vol > 0 and s > 0):
            self.send_error(
                req.req_id,
                321,
                "Error validating request: volatility and underlying price must be positive",
            )
            return
        g = bs.greeks(inst.right == "C", s, inst.strike, years, RATE, vol)
        self._send_computation(req.req_id, vol, g, s)

    def on_calc_implied_vol(self, req: dr.CalcImpliedVolatility) -> None:
        found = self._option(req)
        if found is None:
            return
        inst, years = found
        price, s = req.option_price, req.under_price
        call = inst.right == "C"
        iv = bs.implied_vol(call, price, s, inst.strike, years, RATE) if s > 0 else math.nan
        if math.isnan(iv):
            self.send(m.tick_option_computation(
                req.req_id, CUST_OPTION_COMPUTATION, 0, None, None, price, None, None, None,
                None, s,
            ))  # fmt: skip
            return
        g = bs.greeks(call, s, inst.strike, years, RATE, iv)
        self._send_computation(req.req_id, iv, g, s, price)

    def _send_computation(
        self, req_id: int, vol: float, g: bs.Greeks, s: float, price: float | None = None
    ) -> None:
        self.send(m.tick_option_computation(
            req_id, CUST_OPTION_COMPUTATION, 0, vol, g.delta,
            g.price if price is None else price, 0.0, g.gamma, g.vega, g.theta, s,
        ))  # fmt: skip

    def _option(self, req):
        try:
            inst = self.resolve(req.contract, req.req_id)
        except OrderReject as exc:
            self.send_error(req.req_id, exc.code, exc.message)
            return None
        pricer = self.gw.market.options_pricer
        if inst.sec_type != "OPT" or pricer is None:
            self.send_error(
                req.req_id, 321, "Error validating request: the contract is not an option"
            )
            return None
        years = max(pricer.expiry_time(inst) - self.gw.now(), 0.0) / YEAR
        return inst, years

    def on_exercise(self, req: dr.ExerciseOptions) -> None:
        inst = self.resolve(req.contract, req.req_id)
        now = self.gw.now()
        self.gw.publish(exercise(self.gw.broker, inst, req.action, req.quantity, now))
