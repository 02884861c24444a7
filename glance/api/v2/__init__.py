"""Images API v2: one module per resource and the route table."""
