"""Callbacks that keep the caller's place (issue 16): numbers, the offer policy, the ticker."""
