"""Dify's plugin configuration modules that tool code imports."""
