"""SQL for each kind of shared state; every write is keyed so a repeat is a no-op."""
