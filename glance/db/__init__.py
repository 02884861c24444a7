"""Repositories: the bottom of the chain, mapping domain objects to rows."""
