"""Import jobs on a taskflow jobboard, for ``glance-worker`` to run.

In ``[taskflow_executor] mode = distributed`` an accepted import (an
interoperable image import, or a legacy ``import`` task of POST
/v2/tasks) is not run
by the glance-api process that accepted it: it is posted to a taskflow
jobboard (Redis, or any board taskflow has, chosen by the URL's scheme)
and a conductor in some ``glance-worker`` process claims it and runs the
import flow.  The flow's state (logbook, flow detail, atom states) lives
in taskflow's SQL persistence, in the service's database by default, so a
worker that dies mid-flow is replaced by another that resumes from the
last finished atom.

Each job names the flow it runs (:data:`FLOWS`, the ``flow`` of its
details): the conductor rebuilds it with that flow's factory from the
plain-data inputs the API recorded.

A posted import keeps its lease (:mod:`glance.async_.leases`: the image's,
operation ``job``; a legacy task's, under the task id, operation
``task-job``): whoever holds it (the accepting API process, then the
worker that claimed the job) may die without the import being undone, as
long as the job is still on the board; a job that vanished from the board
is undone like any dead import (:mod:`glance.async_.recovery`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import threading
import types
from typing import Any, Callable, Iterator

from oslo_config import cfg

from glance.async_ import executor, leases

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

IN_PROCESS, DISTRIBUTED = 'in-process', 'distributed'

mode_opts = [
    cfg.StrOpt('mode', default=IN_PROCESS, choices=(IN_PROCESS, DISTRIBUTED),
               help='Where imports run: in-process (a thread pool inside '
                    'the glance-api process that accepted them) or '
                    'distributed (posted to the [jobboard] and run by '
                    'glance-worker processes on any host).'),
]
CONF.register_opts(mode_opts, group='taskflow_executor')

jobboard_opts = [
    cfg.StrOpt('backend_url', default='redis://127.0.0.1:6379',
               help='The taskflow jobboard imports are posted to, as a URL '
                    'whose scheme names the backend: redis://HOST:PORT'
                    '?db=N (password=..., sentinel=...) or '
                    'zookeeper://HOST:PORT.'),
    cfg.StrOpt('board_name', default='glance-imports',
               help='Name of the board (the key namespace in Redis): the '
                    'API nodes and workers of one deployment share it.'),
    cfg.IntOpt('claim_timeout', default=30, min=2,
               help='Seconds a claimed job stays claimed without its '
                    'worker renewing the claim: after a worker dies, '
                    'another one takes its jobs over after this long.'),
    cfg.StrOpt('persistence_connection', secret=True,
               help='SQLAlchemy URL of the database holding taskflow\'s '
                    'flow states (logbooks, flow and atom details). '
                    'Default: the [database] connection, whose tables '
                    'glance-manage db sync creates.'),
]
CONF.register_opts(jobboard_opts, group='jobboard')

#: the flows a job may name, and the factory a conductor rebuilds each
#: with (:mod:`glance.async_.job_flow`)
IMAGE_IMPORT, LEGACY_IMPORT = 'api_image_import', 'legacy_import'
FLOWS = {IMAGE_IMPORT: 'glance.async_.job_flow.import_flow',
         LEGACY_IMPORT: 'glance.async_.job_flow.legacy_flow'}


def distributed() -> bool:
    """Whether imports are posted to the jobboard."""
    return CONF.taskflow_executor.mode == DISTRIBUTED


# -- persistence and board --------------------------------------------------
_LOCK = threading.Lock()
_PERSISTENCE: Any = None


def persistence():
    """taskflow's SQL persistence backend, built once per process.

    On the service database it shares the service's engine in its
    write-transaction form: taskflow reads a row and then writes it in one
    transaction, which SQLite (several API and worker processes writing
    one file) only lets wait for the lock when the transaction took it at
    ``BEGIN`` (:func:`glance.db.sqlalchemy.engine.write_engine`).
    """
    global _PERSISTENCE
    with _LOCK:
        if _PERSISTENCE is None:
            from glance.db.sqlalchemy import engine
            url = CONF.jobboard.persistence_connection
            if url and url.startswith('sqlite'):
                eng = engine.sqlite_engine(url)
            elif url:
                eng = None
            else:
                eng = engine.write_engine()
            _PERSISTENCE = _backend_class()(
                {'connection': url or str(eng.url)}, engine=eng)
        return _PERSISTENCE


#: taskflow's own alembic migrations of its tables
_TASKFLOW_MIGRATIONS = 'taskflow.persistence.backends.sqlalchemy.migration'


def _skip_taskflow_migrations() -> None:
    """Keep taskflow's migrations (and alembic, mako, pygments: 11 MB of
    a worker's RSS) unloaded.

    taskflow's SQL backend imports them when it is loaded, only for its
    ``upgrade()``, which glance never calls: its tables are created by
    glance's own migration (``2026_12_taskflow``, ``glance-manage db
    sync``).  An empty module stands in for them unless they are loaded
    already (glance-manage has alembic anyway).
    """
    if _TASKFLOW_MIGRATIONS not in sys.modules:
        stand_in = types.ModuleType(_TASKFLOW_MIGRATIONS)
        stand_in.__doc__ = ('not loaded by glance: taskflow tables are '
                            'created by glance-manage db sync')
        sys.modules[_TASKFLOW_MIGRATIONS] = stand_in


def _backend_class():
    """taskflow's SQLAlchemy backend, its tables built once.

    taskflow builds a MetaData and its three tables for every connection
    it opens, that is for every atom state it saves: about 1 ms of CPU
    each, and none of them is ever freed (SQLAlchemy's dialect memoises
    the result processor of each new ``Enum`` column, and the memo holds
    the column's table): a glance-worker grew by 6-7 MB with every import,
    to ~470 MB.  Here every connection of a backend shares one set.
    (This leans on the attributes taskflow's connection sets up;
    ``glance/tests/unit/test_taskflow_persistence.py`` checks it.)
    """
    import sqlalchemy as sa
    _skip_taskflow_migrations()
    from taskflow.persistence.backends import impl_sqlalchemy as impl
    from taskflow.persistence.backends.sqlalchemy import tables

    class Connection(impl.Connection):
        def __init__(self, backend, upgrade_lock):  # noqa: D107
            self._backend = backend
            self._upgrade_lock = upgrade_lock
            self._engine = backend.engine
            self._metadata, self._tables, self._converter = backend.schema

    class Backend(impl.SQLAlchemyBackend):
        def __init__(self, conf, engine=None):  # noqa: D107
            super().__init__(conf, engine=engine)
            metadata = sa.MetaData()
            table = tables.fetch(metadata)
            self.schema = (metadata, table, impl._Alchemist(table))

        def get_connection(self):
            conn = Connection(self, upgrade_lock=self._upgrade_lock)
            if not self._validated:
                conn.validate(max_retries=self._max_retries)
                self._validated = True
            return conn
    return Backend


def forget_book(book_uuid: str) -> None:
    """Delete a logbook with its flow and atom details.

    taskflow's ``destroy_logbook`` leaves the details to the foreign keys'
    ``ON DELETE CASCADE``, which SQLite ignores on the service database
    (its connections do not enforce foreign keys): every finished import
    would leave its flow and atom rows behind.  So the children go first,
    explicitly, in the same transaction.
    """
    import sqlalchemy as sa
    backend = persistence()
    table = backend.schema[1]
    logbooks, flows, atoms = (table.logbooks, table.flowdetails,
                              table.atomdetails)
    with backend.engine.begin() as conn:
        fds = sa.select(flows.c.uuid).where(flows.c.parent_uuid == book_uuid)
        conn.execute(atoms.delete().where(atoms.c.parent_uuid.in_(fds)))
        conn.execute(flows.delete().where(flows.c.parent_uuid == book_uuid))
        conn.execute(logbooks.delete().where(logbooks.c.uuid == book_uuid))


def check_persistence() -> None:
    """Raise unless taskflow's tables can be read."""
    backend = persistence()
    with contextlib.closing(backend.get_connection()) as conn:
        list(conn.get_logbooks(lazy=True))


def board_conf() -> dict:
    """The jobboard's configuration as taskflow reads it."""
    return {'board': CONF.jobboard.backend_url,
            'namespace': CONF.jobboard.board_name,
            'path': '/glance/%s' % CONF.jobboard.board_name}


def open_board(with_persistence: bool = True):
    """A connected board (the caller closes it)."""
    from taskflow.jobs import backends
    board = backends.fetch(
        CONF.jobboard.board_name, board_conf(),
        persistence=persistence() if with_persistence else None)
    board.connect()
    return board


_BOARD: Any = None


def _shared_board():
    """This process's board connection for posting and looking up."""
    global _BOARD
    with _LOCK:
        if _BOARD is None:
            _BOARD = open_board(with_persistence=False)
        return _BOARD


# -- posting ----------------------------------------------------------------
@dataclasses.dataclass
class Job:
    """What a job carries: which flow it runs, with which inputs (the
    flow factory's keyword arguments, plain data), and which lease it
    keeps while on the board."""

    task_id: str
    flow: str                   #: a key of :data:`FLOWS`
    inputs: dict
    #: the key of the lease the job keeps: the image id, or the task id
    #: of a legacy task (whose image does not exist yet)
    lease_id: str
    image_id: str | None = None
    method: str | None = None

    def details(self) -> dict:
        """The job's details on the board (what claiming reads)."""
        return {'flow': self.flow, 'lease_id': self.lease_id,
                'image_id': self.image_id, 'task_id': self.task_id,
                'method': self.method}


def describe(details: dict) -> str:
    """A job's import as log lines name it, from its details."""
    if details.get('flow') == LEGACY_IMPORT:
        return 'legacy import task %s' % details.get('task_id')
    return 'import task %s of image %s' % (details.get('task_id'),
                                           details.get('image_id'))


def lease_id(details: dict) -> str | None:
    """The key of the lease a job keeps (jobs posted before jobs named
    their lease keep their image's)."""
    return details.get('lease_id') or details.get('image_id')


def spec_details(spec: Any) -> dict:
    """The import's inputs as plain data: what a conductor rebuilds the
    flow from (the caller's context included, so the import acts as the
    caller did)."""
    return {'context': spec.context.to_dict(), 'task_id': spec.task_id,
            'image_id': spec.image_id, 'method': spec.method,
            'stores': list(spec.stores), 'uri': spec.uri,
            'source': dict(spec.source),
            'all_stores_must_succeed': spec.all_stores_must_succeed}


def post(job: Job) -> str:
    """Record the job's flow factory and inputs in persistence and post
    the job; its uuid."""
    from taskflow import engines
    from taskflow.persistence import models
    book = models.LogBook('import-%s' % job.task_id)
    flow_detail = models.FlowDetail(job.flow, job.task_id)
    book.add(flow_detail)
    # the factory in the flow detail's meta before the one save (a
    # backend given here would save the flow detail a second time)
    engines.save_factory_details(flow_detail, FLOWS[job.flow], [],
                                 job.inputs)
    with contextlib.closing(persistence().get_connection()) as conn:
        conn.save_logbook(book)
    try:
        posted = _shared_board().post(
            job.task_id, book=book,
            details=dict(job.details(), flow_uuid=flow_detail.uuid))
    except Exception:
        with contextlib.suppress(Exception):    # the board's error counts
            forget_book(book.uuid)
        raise
    announce(_shared_board(), posted.uuid)
    return posted.uuid


def submit(job: Job, lease: leases.Lease, operation: str,
           unaccept: Callable[[], None]) -> leases.Lease:
    """Hand the accepted import ``job`` to the board; its lease, now
    the job's (``operation``).

    The lease becomes the job's before the job is posted: a worker
    claiming the job at once must find it so, and take it over.  A board
    that cannot be reached undoes the acceptance (``unaccept``), drops the
    lease and answers 503.
    """
    lease = leases.hand_over(lease, lease.holder_id, operation) or lease
    what = describe(job.details())
    what = what[0].upper() + what[1:]       # it starts the log lines
    try:
        job_id = post(job)
    except Exception as exc:  # noqa: BLE001 - any board or database error
        LOG.error('%s could not be posted to the jobboard %s: %s', what,
                  CONF.jobboard.backend_url, exc)
        try:
            unaccept()
        finally:
            leases.release(lease)
        from glance.common import exception
        raise exception.ServiceUnavailable(
            'Imports cannot be accepted now (the job queue is not '
            'reachable); try again later.')
    LOG.info('%s posted to jobboard %s as job %s', what,
             CONF.jobboard.board_name, job_id)
    return lease


def posted_channel(board) -> bytes:
    """The Redis channel a posted job is announced on."""
    return board.join(b'posted')


def announce(board, job_uuid: str) -> None:
    """Tell idle conductors a job was posted, so one claims it now rather
    than at its next look at the board (``[worker] poll_interval``).
    Best effort: a conductor that missed it finds the job when it looks."""
    client = redis_client(board)
    if client is None:
        return
    try:
        client.publish(posted_channel(board), job_uuid)
    except Exception as exc:  # noqa: BLE001 - polling finds the job anyway
        LOG.debug('Job %s not announced: %s', job_uuid, exc)


def submit_import(spec: Any) -> None:
    """Run the accepted image import ``spec`` in this process, or post
    it (its image lease becoming a ``job`` lease, see :func:`submit`)."""
    from glance.async_.flows import api_image_import as flow
    if not distributed():
        executor.submit(flow.run, spec)
        return
    job = Job(task_id=spec.task_id, flow=IMAGE_IMPORT,
              inputs={'spec': spec_details(spec)}, lease_id=spec.image_id,
              image_id=spec.image_id, method=spec.method)
    spec.lease = submit(
        job, spec.lease, leases.JOB,
        lambda: flow.undo_acceptance(spec, 'The import could not be '
                                           'queued.'))


# -- looking up -------------------------------------------------------------
@dataclasses.dataclass
class JobView:
    """One job as ``glance-manage workers list`` shows it."""

    uuid: str
    task_id: str
    image_id: str | None
    state: str
    owner: str | None


def iter_jobs(board=None) -> Iterator[JobView]:
    """Every job on the board (claimed or not)."""
    board = board or _shared_board()
    for job in board.iterjobs(ensure_fresh=True):
        details = job.details or {}
        state = job.state
        yield JobView(uuid=job.uuid, task_id=job.name,
                      image_id=details.get('image_id'), state=state,
                      owner=board.find_owner(job) if state == 'CLAIMED'
                      else None)


def redis_client(board) -> Any:
    """The Redis client of a Redis board, else None."""
    return getattr(board, '_client', None) if hasattr(board, 'join') and \
        CONF.jobboard.backend_url.startswith('redis') else None


def worker_key(board, name: str = '*') -> bytes:
    """Where a worker's conductor announces itself on a Redis board."""
    return board.join(b'workers', name)


def iter_workers(board=None) -> Iterator[dict]:
    """The conductors that announced themselves within a claim timeout
    (name, and metadata: hostname, pid...), on a Redis board."""
    board = board or _shared_board()
    client = redis_client(board)
    if client is None:
        return
    for key in client.scan_iter(match=worker_key(board)):
        raw = client.get(key)
        if raw:
            yield json.loads(raw)


def on_board(task_id: str | None) -> bool:
    """Whether the job of ``task_id`` is still on the board.

    Unknown (the board unreachable) counts as yes: an import is never
    undone on a guess.
    """
    if not task_id:
        return False
    try:
        return any(j.task_id == task_id for j in iter_jobs())
    except Exception as exc:  # noqa: BLE001 - redis, zookeeper, ...
        LOG.warning('Jobboard %s not reachable (%s); the import of task %s '
                    'is left alone', CONF.jobboard.backend_url, exc, task_id)
        return True
