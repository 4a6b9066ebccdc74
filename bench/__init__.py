"""`make bench`: the whole call path of a real `ivr serve` against the bare stack's ceiling."""
