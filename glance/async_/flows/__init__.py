"""Taskflow flows, one module per flow: ``get_flow(spec)`` builds it."""
