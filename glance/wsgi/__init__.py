"""Entry points for running under an external WSGI server."""
