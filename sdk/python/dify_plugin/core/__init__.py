"""The session of one call."""
