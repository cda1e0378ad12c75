"""Evaluation of frozen encoders: kNN now; linear probe, fine-tuning later."""
