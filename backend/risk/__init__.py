"""Risk: streaming metrics, return sampling, divergence tests, execution quality, the engine."""

from livedesk.backend.risk.divergence import DivergenceRow, compare
from livedesk.backend.risk.downsample import MinMaxDownsampler, downsample_minmax
from livedesk.backend.risk.engine import ACCOUNT, FillRecord, RiskEngine, RiskRow
from livedesk.backend.risk.execution import ExecutionSummary
from livedesk.backend.risk.metrics import StreamingRiskMetrics
from livedesk.backend.risk.returns import ReturnSampler

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
