"""Training matching models on a shop's own judgments."""
