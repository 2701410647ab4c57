"""Metrics registered in mmpretrain's METRICS."""
