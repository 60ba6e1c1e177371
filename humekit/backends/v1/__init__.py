"""Hume's live v1 Expression Measurement API: limits, media conversion, windows and face frames."""
