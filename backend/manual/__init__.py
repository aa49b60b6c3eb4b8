"""Trading by hand: the command line's grammar, the order ticket and its preview (no Textual)."""
