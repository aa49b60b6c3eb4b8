"""Risk: streaming metrics, return sampling, divergence tests, execution quality, the engine."""

from backend.risk.divergence import DivergenceRow, compare
from backend.risk.downsample import MinMaxDownsampler, downsample_minmax
from backend.risk.engine import ACCOUNT, FillRecord, RiskEngine, RiskRow
from backend.risk.execution import ExecutionSummary
from backend.risk.metrics import StreamingRiskMetrics
from backend.risk.returns import ReturnSampler

__all__ = [
    "ACCOUNT",
    "DivergenceRow",
    "ExecutionSummary",
    "FillRecord",
    "MinMaxDownsampler",
    "ReturnSampler",
    "RiskEngine",
    "RiskRow",
    "StreamingRiskMetrics",
    "compare",
    "downsample_minmax",
]
