"""The monthly momentum factor: zipline Pipeline, pick function, live run and backtest.

``pipeline`` and ``backtest`` import zipline at module import: import them lazily.
"""
