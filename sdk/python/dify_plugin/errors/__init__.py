"""Errors a plugin raises and the ones the SDK raises to it."""
