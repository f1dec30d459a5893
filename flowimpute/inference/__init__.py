"""Inference engines without estimator state: search, MCMC, held-out selection, donors."""
