"""Whistle: anonymous whistleblowing for public bodies."""

__version__ = "0.1.0"
