"""Telephony and voice-menu backend for a French prefecture's switchboard."""

__version__ = "0.1.0"
