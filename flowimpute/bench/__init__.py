"""Benchmarks that measure flowimpute against the baselines users know."""
