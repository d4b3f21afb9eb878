"""Training and evaluation of the project's own emotion models."""
