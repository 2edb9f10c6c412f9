"""Project-wide pytest configuration: the lab's own plugin comes from its entry point."""

pytest_plugins = ["pytester"]
