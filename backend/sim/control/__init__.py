"""Control of a running simulated gateway: fault hooks and the ``sim-control`` client."""
