"""Machine-readable progress of an import, in its task's ``result``.

While an import moves data, its task's result reads::

    {"progress": {"stage": "fetch", "bytes_done": 5242880,
                  "bytes_total": 10485760}}

``stage`` is what the bytes are going through: ``fetch`` (web-download,
glance-download and copy-image bringing the data into staging) or
``write:STORE`` (the staged data written to one store; ``write:`` for the
only store of a single-store deployment); ``bytes_total`` is null when
the source does not say its size.  The record is written at most once per
``[task] progress_interval`` seconds and once when a stage ends, as a
single column update of a task still ``processing``, so it never races
with the task's own status.  When the task ends its result is the
reference's (``{"image_id": ...}`` on success).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable, Iterator

from oslo_config import cfg

from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

progress_opts = [
    cfg.FloatOpt('progress_interval', default=2.0, min=0.1,
                 help='Seconds between two progress records of an import '
                      'moving data (one small UPDATE of its task each).'),
]
CONF.register_opts(progress_opts, group='task')


def record(spec: Any, stage: str, done: int, total: int | None) -> None:
    """Write the progress of ``spec``'s task now."""
    result = {'progress': {'stage': stage, 'bytes_done': done,
                           'bytes_total': total}}
    try:
        gateway.get_internal_task_repo(spec.context).record_progress(
            spec.task_id, result)
    except Exception as exc:  # noqa: BLE001 - progress never fails an import
        LOG.warning('Progress of task %s not recorded: %s', spec.task_id,
                    exc)


def counting(chunks: Iterable[bytes], spec: Any, stage: str,
             total: int | None = None) -> Iterator[bytes]:
    """Pass ``chunks`` on, recording how many bytes went through."""
    interval = CONF.task.progress_interval
    done = 0
    last = time.monotonic()
    record(spec, stage, 0, total)
    for chunk in chunks:
        done += len(chunk)
        now = time.monotonic()
        if now - last >= interval:
            last = now
            record(spec, stage, done, total)
        yield chunk
    record(spec, stage, done, total)
