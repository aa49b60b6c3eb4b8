"""The demo account: one persistent simulated account per user data directory."""
