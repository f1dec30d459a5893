"""Variational autoencoders of incomplete tables."""
