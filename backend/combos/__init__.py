"""Combos: pure combo maths, the builder's form, payoff, quote feed, BAG legs, Black-Scholes."""
