"""Reliability and security, measured: crash/resume, chaos, bad inputs, hostile webhooks, secrets, concurrency.

``python -m tests.reliability.report`` runs this package and rewrites RELIABILITY.md from the figures it records.
"""
