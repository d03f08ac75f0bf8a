"""Renderers: a Report as text. The only code that words things."""
