"""Issuing fingerprinted copies of a trained model and attributing images to them (paper §4.6)."""
