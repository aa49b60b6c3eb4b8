"""The equity chart: a flat equity is drawn flat, and a $7 dip on $1M is not a crash."""

from __future__ import annotations

from livedesk.tui.widgets.spark import BARS, EQUITY_MIN_SPAN, bar_rows


def levels(rows: list[str]) -> list[int]:
    """Eighth-cells filled per column (bars standing on the bottom)."""
    cols = len(rows[0])
    return [sum(BARS.index(r[c]) for r in rows) for c in range(cols)]


def test_flat_equity_is_flat() -> None:
    lv = levels(bar_rows([1_000_000.0] * 20, 6, min_span=EQUITY_MIN_SPAN * 1e6))
    assert len(set(lv)) == 1 and lv[0] == 24  # half of 6 rows x 8 eighths


def test_a_seven_dollar_dip_is_a_ripple_not_a_crash() -> None:
    values = [1_000_000.0] * 10 + [999_993.0] + [1_000_000.0] * 9
    unscaled = levels(bar_rows(values, 6))
    assert unscaled[10] == 1 and unscaled[0] == 48  # without a floor: top to bottom
    lv = levels(bar_rows(values, 6, min_span=EQUITY_MIN_SPAN * 1e6))
    # hand: span $5,000 centred on the values; 7 / 5000 of 48 eighths ≈ 0.07 → at most one
    assert lv[0] - lv[10] <= 1 and lv[0] in (24, 25)


def test_a_real_drawdown_still_fills_the_chart() -> None:
    values = [0.0, -0.01, -0.03, -0.02]
    rows = bar_rows(values, 4, low_first=True, min_span=0.005)
    assert rows[-1][2] != " " and rows[-1][0] == " "  # the trough hangs to the bottom
