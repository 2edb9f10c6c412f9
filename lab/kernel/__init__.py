"""Kernel plumbing: capability checks, namespaces, links, sysctls, faults."""
