"""The TWS API wire protocol of the simulated gateway: framing, versions, encoders, request
parsers."""
