"""The classes a plugin subclasses."""
