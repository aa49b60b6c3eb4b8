"""The pre-encoded streaming frames are byte-for-byte the field encoders' frames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livedesk.backend.sim.protocol import data_messages as dm
from livedesk.backend.sim.protocol import fast_frames as ff
from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol.versions import protocol
from livedesk.backend.sim.protocol.wire import encode_frame

prices = st.floats(min_value=0.0, max_value=1e7, allow_nan=False) | st.sampled_from(
    [0.0, 1.0, 150.01, 1e-8]
)
sizes = st.integers(min_value=0, max_value=10**9) | st.floats(min_value=0, max_value=1e9)
ids = st.integers(min_value=0, max_value=2**31 - 1)


@given(ids, st.sampled_from([0, 1, 2, 3, 4, 6, 7, 9, 14]), prices, st.integers(0, 10**7))
def test_tick_price(req_id, tick, price, shares):
    proto = protocol(178)
    want = encode_frame(m.tick_price(req_id, tick, price, shares, proto=proto, sec_type="STK"))
    assert ff.tick_price(req_id, tick, price, proto.tick_size(shares, "STK")) == want


@pytest.mark.parametrize("version", [157, 163, 178])
def test_tick_size_in_each_versions_unit(version):
    proto = protocol(version)
    for shares in (0, 100, 12_345, 2_500_000):
        want = encode_frame(m.tick_size(7, 8, shares, proto=proto, sec_type="STK"))
        assert ff.tick_size(7, 8, proto.tick_size(shares, "STK")) == want


@given(
    ids, st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=7, max_size=7)
)
def test_option_computation(req_id, v):
    want = encode_frame(
        m.tick_option_computation(req_id, 13, 1, v[0], v[1], v[2], 0.0, v[3], v[4], v[5], v[6])
    )
    assert ff.tick_option_computation(req_id, 13, *v) == want


@given(ids, st.integers(0, 9), st.integers(0, 2), st.integers(0, 1), prices, sizes)
def test_depth_rows(req_id, pos, op, side, price, size):
    assert ff.mkt_depth(req_id, pos, op, side, price, size) == encode_frame(
        dm.mkt_depth(req_id, pos, op, side, price, size)
    )
    assert ff.mkt_depth_l2(req_id, pos, "ARCA", op, side, price, size) == encode_frame(
        dm.mkt_depth_l2(req_id, pos, "ARCA", op, side, price, size, True)
    )


@given(
    ids,
    st.sampled_from([1, 2, 4, 6, 7, 14]),
    prices,
    st.integers(0, 10**7),
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=7, max_size=7),
)
def test_subscription_frames(req_id, tick, price, shares, v):
    """A subscription's cached frame heads give the field encoders' frames, every time."""
    proto = protocol(178)
    frames = ff.TickFrames(req_id)
    for _ in range(2):  # the first call builds a head, the second reuses it
        want = encode_frame(m.tick_price(req_id, tick, price, shares, proto=proto, sec_type="STK"))
        assert frames.price(tick, price, proto.tick_size(shares, "STK")) == want
        want = encode_frame(m.tick_size(req_id, 8, shares, proto=proto, sec_type="STK"))
        assert frames.size(8, proto.tick_size(shares, "STK")) == want
        want = encode_frame(
            m.tick_option_computation(req_id, 13, 1, v[0], v[1], v[2], 0.0, v[3], v[4], v[5], v[6])
        )
        assert frames.option(13, *v) == want


@pytest.mark.parametrize("version", [157, 160, 178])
@pytest.mark.parametrize("sec_type", ["STK", "OPT"])
def test_quote_frames_write_what_changed_as_the_encoders_do(version, sec_type):
    proto = protocol(version)
    frames = ff.TickFrames(42, proto, sec_type)

    def price(tick, p, size):
        return encode_frame(m.tick_price(42, tick, p, size, proto=proto, sec_type=sec_type))

    def size(tick, shares):
        return encode_frame(m.tick_size(42, tick, shares, proto=proto, sec_type=sec_type))

    first = (150.01, 150.03, 300, 500, 150.02, 200, 1_234_500)
    out: list[bytes] = []
    assert frames.quote(first, None, out) is True  # the first quote: everything, in order
    assert out == [
        price(1, 150.01, 300),
        price(2, 150.03, 500),
        price(4, 150.02, 200),
        size(8, 1_234_500),
    ]
    second = (150.01, 150.04, 300, 500, 150.02, 200, 1_234_800)  # the ask and the volume moved
    out = []
    assert frames.quote(second, first, out) is False  # the last did not move
    assert out == [price(2, 150.04, 500), size(8, 1_234_800)]
    third = (150.01, 150.04, 400, 500, 150.03, 200, 1_234_800)  # bid size and the last moved
    out = []
    assert frames.quote(third, second, out) is True
    assert out == [price(1, 150.01, 400), price(4, 150.03, 200)]
    out = []
    assert frames.quote(third, third, out) is False
    assert out == []
