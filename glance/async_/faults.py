"""Fault points: where the crash tests stop a worker, deterministically.

The crash tests must kill a ``glance-worker`` at a chosen step of an import
(before an atom runs, or in the middle of a copy), not wherever it happens
to be.  When the process's environment names a file in
``GLANCE_FAULT_FILE``, every fault point reads that file.  If it names the
point (a shell-style pattern: ``atom:write_to_store_*`` before that atom
runs; ``copy:fetch`` after a copy's first chunk; ``copy:write:fast:2MiB``
once two MiB went through), the first process to get there takes the file
(renames it, so any other process passes) and blocks forever, logging
``FAULT POINT <name> reached`` so the test knows whom to kill.

Not configuration: no option exposes it, and without the environment
variable a fault point costs one dictionary lookup.
"""
from __future__ import annotations

import fnmatch
import logging
import os
import threading

LOG = logging.getLogger(__name__)

ENV = 'GLANCE_FAULT_FILE'


def point(name: str) -> None:
    """Block here for ever if the fault file names ``name``."""
    path = os.environ.get(ENV)
    if not path:
        return
    try:
        with open(path) as f:
            pattern = f.read().strip()
    except OSError:
        return
    if not pattern or not fnmatch.fnmatchcase(name, pattern):
        return
    try:
        os.rename(path, path + '.taken')
    except OSError:
        return                  # another process took it first
    LOG.warning('FAULT POINT %s reached (pid %d): pausing until killed',
                name, os.getpid())
    threading.Event().wait()


def watch_atoms(engine) -> None:
    """Make every atom of ``engine`` a fault point ``atom:<name>``, reached
    once its state ``RUNNING`` is persisted and before it executes."""
    if not os.environ.get(ENV):
        return
    from taskflow import states
    engine.atom_notifier.register(
        states.RUNNING,
        lambda state, details: point('atom:%s' % details['task_name']))
