"""Synthetic media and studies for the demo, the notebooks and the tests (synthetic: not Hume's)."""
