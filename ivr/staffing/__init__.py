"""Staffing: the standardists needed to answer a share of queued calls before the target ring."""
