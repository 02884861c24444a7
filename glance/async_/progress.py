"""How far a task's data copy has got, recorded on the task as it runs.

Every copy an import makes (fetching into staging, writing to a store)
passes its chunks through :func:`copying`, which records one progress
record at a time, in a single update of a task still ``processing``
(:meth:`glance.db.tasks.TaskRepo.record_progress`), so it never races
with the task's own status:

* ``message``: ``Copied N MiB``, as the reference service writes it.  Each
  copy counts from zero; the message is written at a copy's first whole
  MiB and then when N has grown and ``[task] progress_interval`` passed.
* ``result``: machine-readable progress, beyond the reference::

      {"progress": {"stage": "fetch", "bytes_done": 5242880,
                    "bytes_total": 10485760}}

  ``stage`` is ``fetch`` (web-download, glance-download, copy-image and
  the legacy import bringing the data in) or ``write:STORE`` (``write:``
  for the only store of a single-store deployment); ``bytes_total`` is
  null when the source does not say its size.  It is recorded when a copy
  starts, at most once per interval while it runs, and when it ends; when
  the task ends its result is the reference's.

Each record is also sent as a ``task.progress`` notification (by the
notifier layer).  Progress is best effort: a record that cannot be written
does not stop the copy.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Iterator

from oslo_config import cfg

from glance.async_ import faults
from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

progress_opts = [
    cfg.FloatOpt('progress_interval', default=5.0, min=0,
                 help='Least seconds between two progress records of an '
                      'import task while its data is copied: the message '
                      '("Copied N MiB", written only when another whole '
                      'MiB was copied) and the machine-readable progress '
                      'in its result.  0 records at every step.'),
]
CONF.register_opts(progress_opts, group='task')

MiB = 1024 * 1024

#: where records go: (result, message or None) -> None
Sink = Callable[[dict, 'str | None'], None]


def message(copied: int) -> str:
    """The progress message for ``copied`` bytes, in whole MiB."""
    return 'Copied %d MiB' % (copied // MiB)


def metered(chunks: Iterable[bytes], sink: Sink, stage: str,
            total: int | None = None) -> Iterator[bytes]:
    """``chunks`` unchanged, telling ``sink`` how far they got.

    A chunk counts once whoever consumes it has taken it.  Failures of
    ``sink`` are logged and the copy goes on.
    """
    interval = CONF.task.progress_interval
    done = told = 0
    last_record = time.monotonic()
    last_message: float | None = None
    _tell(sink, stage, 0, total, None)
    for chunk in chunks:
        yield chunk
        if not done:                            # (the crash tests')
            faults.point('copy:%s' % stage)
        elif (done + len(chunk)) // MiB > done // MiB:
            faults.point('copy:%s:%dMiB' % (stage, (done + len(chunk)) // MiB))
        done += len(chunk)
        now = time.monotonic()
        grown = done // MiB > told // MiB
        say = grown and (last_message is None
                         or now - last_message >= interval)
        if say or now - last_record >= interval:
            _tell(sink, stage, done, total, message(done) if say else None)
            last_record = now
            if say:
                told, last_message = done, now
    _tell(sink, stage, done, total, None)


def _tell(sink: Sink, stage: str, done: int, total: int | None,
          text: str | None) -> None:
    result = {'progress': {'stage': stage, 'bytes_done': done,
                           'bytes_total': total}}
    try:
        sink(result, text)
    except Exception as exc:  # noqa: BLE001 - progress never fails a copy
        LOG.warning('Progress (%s, %d bytes) not recorded: %s', stage, done,
                    exc)


def task_sink(context: Any, task_id: str) -> Sink:
    """A sink writing to the task ``task_id`` (and its notifications)."""
    repo = gateway.get_internal_task_repo(context)

    def record(result: dict, text: str | None) -> None:
        repo.record_progress(task_id, result, text)
    return record


def copying(chunks: Iterable[bytes], context: Any, task_id: str,
            stage: str, total: int | None = None) -> Iterator[bytes]:
    """Pass ``chunks`` on, recording the copy's progress on the task."""
    return metered(chunks, task_sink(context, task_id), stage, total)
