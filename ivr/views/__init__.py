"""Thin aiohttp handlers: read the request, call the store and the engine, answer TwiML."""
