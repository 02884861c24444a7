"""The OpenStack conformance suite (Tempest and glance-tempest-plugin)
against our glance-api behind a real Keystone: ``make tempest``.

``run`` is the driver, ``deployments`` the glance configurations it tries,
``tempest_conf`` the tempest.conf it writes for each, and ``web`` the
loopback HTTP server of the images Tempest imports and adds as locations.
"""
