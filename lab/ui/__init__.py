"""Terminal user interface: the live view of a scenario run."""
