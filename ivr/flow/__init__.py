"""The voice menu: its model, its loader and the pure engine that walks it."""
