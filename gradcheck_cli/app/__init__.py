"""The application layer: from the outside world (targets, points, configuration) to a Report."""
