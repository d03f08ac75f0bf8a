"""The numerical core: torch and numpy only; no click, rich, configuration, flag names or prose."""
