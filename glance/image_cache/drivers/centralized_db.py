"""The ``centralized_db`` cache driver: records in the glance database.

Each API node is a row of ``node_reference`` (its
``worker_self_reference_url``); ``cached_images`` rows belong to one node.
Nodes sharing the database therefore see which node caches what, while
each node lists and changes only its own records.
"""
from __future__ import annotations

import datetime

from oslo_config import cfg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from glance.db.sqlalchemy import engine
from glance.db.sqlalchemy import models
from glance.image_cache.drivers import base

CONF = cfg.CONF
_UTC = datetime.timezone.utc


def _to_db(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, _UTC).replace(
        tzinfo=None)


def _from_db(value: datetime.datetime) -> float:
    return value.replace(tzinfo=_UTC).timestamp()


def _entry(row: models.CachedImage) -> base.Entry:
    return base.Entry(image_id=row.image_id, size=row.size, hits=row.hits,
                      last_accessed=_from_db(row.last_accessed),
                      last_modified=_from_db(row.last_modified),
                      checksum=row.checksum, stamp=row.stamp)


class Driver(base.Driver):
    """Records of this node (``worker_self_reference_url``) in the DB."""

    name = 'centralized_db'

    def __init__(self, node_url: str | None = None):
        self.node_url = node_url or CONF.worker_self_reference_url
        if not self.node_url:
            raise ValueError(
                'image_cache_driver = centralized_db needs '
                'worker_self_reference_url: the URL other nodes reach this '
                'glance-api at (e.g. http://node1:9292)')
        self._node_id: int | None = None

    def node_id(self) -> int:
        """This node's node_reference id, the row created when missing."""
        if self._node_id is None:
            select = sa.select(models.NodeReference.node_reference_id).where(
                models.NodeReference.node_reference_url == self.node_url)
            with engine.session_scope() as session:
                found = session.execute(select).scalar()
                if found is None:
                    try:
                        with session.begin_nested():
                            session.add(models.NodeReference(
                                node_reference_url=self.node_url))
                    except sa_exc.IntegrityError:
                        pass        # another worker added it meanwhile
                    found = session.execute(select).scalar()
            self._node_id = found
        return self._node_id

    def _mine(self):
        return models.CachedImage.node_reference_id == self.node_id()

    def _row(self, session, image_id: str):
        return session.execute(sa.select(models.CachedImage).where(
            self._mine(), models.CachedImage.image_id == image_id)).scalar()

    def get(self, image_id: str) -> base.Entry | None:
        with engine.session_scope(readonly=True) as session:
            row = self._row(session, image_id)
            return _entry(row) if row else None

    def list(self) -> list[base.Entry]:
        with engine.session_scope(readonly=True) as session:
            rows = session.execute(sa.select(models.CachedImage).where(
                self._mine()).order_by(models.CachedImage.last_accessed,
                                       models.CachedImage.image_id))
            return [_entry(r) for r in rows.scalars()]

    def put(self, entry: base.Entry) -> None:
        node = self.node_id()
        with engine.session_scope() as session:
            row = self._row(session, entry.image_id)
            if row is None:
                row = models.CachedImage(image_id=entry.image_id,
                                         node_reference_id=node)
                session.add(row)
            row.size, row.hits = entry.size, entry.hits
            row.last_accessed = _to_db(entry.last_accessed)
            row.last_modified = _to_db(entry.last_modified)
            row.checksum, row.stamp = entry.checksum, entry.stamp

    def hit(self, image_id: str) -> None:
        with engine.session_scope() as session:
            session.execute(sa.update(models.CachedImage).where(
                self._mine(), models.CachedImage.image_id == image_id).values(
                hits=models.CachedImage.hits + 1,
                last_accessed=_to_db(datetime.datetime.now(_UTC)
                                     .timestamp())))

    def set_stamp(self, image_id: str, stamp: str) -> None:
        with engine.session_scope() as session:
            session.execute(sa.update(models.CachedImage).where(
                self._mine(), models.CachedImage.image_id == image_id).values(
                stamp=stamp))

    def delete(self, image_id: str) -> bool:
        with engine.session_scope() as session:
            return session.execute(sa.delete(models.CachedImage).where(
                self._mine(),
                models.CachedImage.image_id == image_id)).rowcount > 0

    def nodes(self, image_id: str) -> list[str]:
        """Every node sharing the database that holds ``image_id``."""
        with engine.session_scope(readonly=True) as session:
            rows = session.execute(
                sa.select(models.NodeReference.node_reference_url)
                .join(models.CachedImage, models.CachedImage.node_reference_id
                      == models.NodeReference.node_reference_id)
                .where(models.CachedImage.image_id == image_id)
                .order_by(models.NodeReference.node_reference_url))
            return list(rows.scalars())

    def delete_all(self) -> list[str]:
        with engine.session_scope() as session:
            ids = list(session.execute(sa.select(
                models.CachedImage.image_id).where(self._mine())).scalars())
            session.execute(sa.delete(models.CachedImage).where(
                self._mine()))
        return ids
