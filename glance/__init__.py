"""glance: the OpenStack Image service (Images API v2)."""
