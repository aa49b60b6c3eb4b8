"""zipline data bundles under the LiveDesk data dir: the demo market's history or the user's CSV.

Nothing here imports zipline at module import; the writers import it inside functions.
"""
