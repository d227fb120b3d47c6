"""Evaluation: metrics (numpy/scikit-learn), the report, scoring a split, predicting photos."""
