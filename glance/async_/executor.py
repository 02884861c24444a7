"""Runs task flows off the request thread, on a bounded pool.

The API answers 202 as soon as the task is recorded; the flow runs here.
Under eventlet (the standalone server) the pool is of green threads, so a
long import never blocks the requests of the same worker; elsewhere it is
a pool of OS threads.  ``[taskflow_executor] max_workers`` sizes it.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from oslo_config import cfg
from oslo_context import context as oslo_context
import futurist

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

executor_opts = [
    cfg.IntOpt('max_workers', default=10, min=1,
               help='Imports (flows) one API worker runs at once; more '
                    'wait their turn.'),
    cfg.StrOpt('engine_mode', default='serial',
               choices=('serial', 'parallel'),
               help='The taskflow engine that runs import flows: serial '
                    '(one task at a time, in the import\'s own thread) or '
                    'parallel (independent tasks at once).'),
]
CONF.register_opts(executor_opts, group='taskflow_executor')

_LOCK = threading.Lock()
_POOL = None


def _green() -> bool:
    try:
        from eventlet import patcher
    except ImportError:
        return False
    return patcher.is_monkey_patched('thread')


def pool() -> futurist.Executor:
    """The process's pool, built on first use (after any fork)."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            size = CONF.taskflow_executor.max_workers
            _POOL = (futurist.GreenThreadPoolExecutor(max_workers=size)
                     if _green() else
                     futurist.ThreadPoolExecutor(max_workers=size))
        return _POOL


def submit(fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` later; errors are logged, never lost silently.

    The submitting request's context becomes the worker's current one, so
    the flow's log lines carry that request's ids.
    """
    ctx = oslo_context.get_current()

    def run():
        if ctx is not None:
            ctx.update_store()
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - the flow records its own failure
            LOG.exception('Task %s failed unexpectedly', fn)
    pool().submit(run)
