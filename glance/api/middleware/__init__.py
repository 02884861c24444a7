"""WSGI middleware: context, version negotiation, (later) the image cache."""
