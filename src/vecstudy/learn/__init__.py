"""Learning from tables: the scikit-learn estimator (:mod:`vecstudy.learn.estimator`).

Importing this package imports nothing else; ``LogisticRegressionGD`` needs scikit-learn,
which only its own module imports (``vecstudy.LogisticRegressionGD`` imports it on first use).
"""
