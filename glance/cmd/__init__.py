"""Console entry points: parse arguments, call library code."""
