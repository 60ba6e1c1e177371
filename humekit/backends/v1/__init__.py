"""Hume's v1 Expression Measurement API: synchronous uploads of audio windows and batches of JPEG frames."""
