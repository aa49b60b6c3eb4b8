"""Console screens and dialogs."""
