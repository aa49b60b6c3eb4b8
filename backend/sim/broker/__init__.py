"""The simulated broker: book of record, matching, account, margin, what-if, combos, validation,
state."""
