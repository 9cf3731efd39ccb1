"""Evaluation metrics: fingerprint bit accuracy (with its p-value) and FID, run by
`run_metrics.py` on network pickles and by the training loop on its networks."""
