"""glance-worker runs without eventlet (glance.cmd.worker.without_eventlet):
everything it loads to run imports must import, and leave eventlet out,
in a fresh interpreter as the console script starts one."""
from __future__ import annotations

import subprocess
import sys

#: what a worker loads: the conductor and jobboard, recovery, the
#: repositories and layers, both import flows, their plugins, the stores
WORKER_MODULES = (
    'glance.common.startup', 'glance.async_.conductor', 'glance.async_.jobs',
    'glance.async_.recovery', 'glance.gateway',
    'glance.async_.flows.api_image_import',
    'glance.async_.flows.legacy_import', 'glance.async_.plugins',
    'glance.async_.plugins.image_conversion',
    'glance.async_.plugins.inject_image_metadata',
    'glance.store._drivers.filesystem', 'glance.store._drivers.swift',
)

SCRIPT = '''
import sys
from glance.cmd import worker
worker.without_eventlet()
for name in %r:
    __import__(name)
from oslo_service import backend
print(backend.get_backend_type().value)
loaded = [m for m in sys.modules
          if m.split('.')[0] == 'eventlet' and sys.modules[m] is not None]
print(loaded)
''' % (WORKER_MODULES,)


def test_the_worker_loads_without_eventlet():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split('\n')[:2] == ['threading', '[]'], out.stdout
