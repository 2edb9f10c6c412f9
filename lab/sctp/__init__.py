"""SCTP over the kernel stack: timer profiles, endpoints, traffic and its analysis."""
