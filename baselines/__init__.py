"""Baselines that the paper compares its fingerprinting against."""
