"""Trading: `TradingApp`, the five order primitives, rebalancing, sizing, the guard."""
