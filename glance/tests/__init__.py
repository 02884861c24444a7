"""glance's tests: unit/ (no processes) and functional/ (real glance-api
over HTTP)."""
