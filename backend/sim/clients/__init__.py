"""Client connections of the simulated gateway: transport, sessions, request handlers by area,
pacing."""
