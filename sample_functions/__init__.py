"""Sample functions for gradcheck-cli: each module's docstring gives the command that checks it."""
