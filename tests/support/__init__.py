"""Helpers for the tests: the fake provider servers (Twilio, Slack), the throwaway PostgreSQL,
harnesses that run real processes, and small fakes.
"""
