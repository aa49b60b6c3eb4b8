"""Market depth of a client session: reqMktDepth books streamed as row updates, and
reqMktDepthExchanges (a mixin of :class:`~livedesk.backend.sim.clients.session.ClientSession`).

The book is :func:`livedesk.backend.sim.market.microstructure.book`. The first pass inserts
every row (operation 0); later passes send only the rows whose price or size changed
(operation 1), and insert or delete rows when a side grows or shrinks. A smart-depth
request gets ``updateMktDepthL2`` rows naming the exchange that shows each level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market import microstructure
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.protocol import data_messages as dm
from livedesk.backend.sim.protocol import data_requests as dr
from livedesk.backend.sim.protocol import fast_frames as ff

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

ASK, BID = 0, 1
INSERT, UPDATE, DELETE = 0, 1, 2
DEPTH_LIMIT_MSG = "Max number ({n}) of market depth requests has been reached"


@dataclass
class DepthSub:
    """One reqMktDepth subscription and the rows last sent (per side, best first)."""

    inst: Instrument
    rows: int
    smart: bool
    sent: dict[int, list[tuple[float, int]]] = field(default_factory=lambda: {ASK: [], BID: []})


class DepthRequests:
    """reqMktDepth / cancelMktDepth / reqMktDepthExchanges; the session supplies ``gw``,
    ``send``, ``send_error``, ``resolve`` and ``depth``."""

    gw: SimGateway
    depth: dict[int, DepthSub]
    depth_updates: int

    def on_mkt_depth(self, req: dr.ReqMktDepth) -> None:
        try:
            inst = self.resolve(req.contract, req.req_id)
        except OrderReject as exc:
            self.send_error(req.req_id, exc.code, exc.message)
            return
        limit = self.gw.max_depth_books
        if req.req_id not in self.depth and len(self.depth) >= limit:
            self.send_error(req.req_id, 309, DEPTH_LIMIT_MSG.format(n=limit))
            return
        rows = req.num_rows if req.num_rows > 0 else 5
        sub = DepthSub(inst, min(rows, microstructure.MAX_BOOK_ROWS), req.smart_depth)
        self.depth[req.req_id] = sub
        self.push_depth(req.req_id, sub, self.gw.now())

    def on_cancel_mkt_depth(self, req: dr.CancelMktDepth) -> None:
        self.depth.pop(req.req_id, None)

    def on_mkt_depth_exchanges(self, req: dr.ReqMktDepthExchanges) -> None:
        rows = [(ex, "STK", "", "Deep2", -1) for ex in microstructure.DEPTH_EXCHANGES]
        rows += [("CBOE", "OPT", "", "Deep", -1), ("NYMEX", "FUT", "", "Deep", -1)]
        self.send(dm.mkt_depth_exchanges(rows))

    def push_depth(self, req_id: int, sub: DepthSub, now: float) -> None:
        """Send the rows of ``sub``'s book that changed since the last pass."""
        bids, asks = microstructure.book(self.gw.market, sub.inst, now, sub.rows)
        for side, rows in ((BID, bids), (ASK, asks)):
            old = sub.sent[side]
            if rows == old:
                continue
            for pos, row in enumerate(rows):
                if pos >= len(old):
                    self._depth_row(req_id, sub, pos, INSERT, side, row)
                elif old[pos] != row:
                    self._depth_row(req_id, sub, pos, UPDATE, side, row)
            for pos in range(len(old) - 1, len(rows) - 1, -1):
                self._depth_row(req_id, sub, pos, DELETE, side, old[pos])
            sub.sent[side] = rows

    def _depth_row(
        self, req_id: int, sub: DepthSub, pos: int, op: int, side: int, row: tuple[float, int]
    ) -> None:
        self.depth_updates += 1
        size = self.proto.tick_size(row[1], sub.inst.sec_type)
        if sub.smart:
            venues = microstructure.DEPTH_EXCHANGES
            maker = venues[(sub.inst.con_id + pos + side) % len(venues)]
            self.send_frame(ff.mkt_depth_l2(req_id, pos, maker, op, side, row[0], size))
        else:
            self.send_frame(ff.mkt_depth(req_id, pos, op, side, row[0], size))
