"""Shared building blocks: configuration, exceptions, the WSGI server and
Resource."""
