"""Synthetic captures with ground truth: the lab generator and its parts."""
