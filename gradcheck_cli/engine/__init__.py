"""The engine: one check of one function at one point."""
