"""Backwards invocations: calls from a plugin into the workspace."""
