"""Model research: scripts that compare training variants and candidate models.

Run from the repository root as modules (``python -m train.experiments.ser_experiments``); each
prints its figures, and the model cards quote them. They are not part of the shipped recipe.
"""
