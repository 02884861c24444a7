"""SQLAlchemy 2 models of the image catalogue.

Rows are soft-deleted (``deleted`` + ``deleted_at``) so an image id is never
reused and ``glance-manage db purge`` can remove them later.
"""
from __future__ import annotations

import datetime
import json
from typing import Any, Callable

from sqlalchemy import (BigInteger, Boolean, DateTime, ForeignKey, Index,
                        Integer, String, Text, TypeDecorator,
                        UniqueConstraint)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Timestamps keep microseconds on MySQL/MariaDB too (plain DATETIME drops
#: them), so "sort by created_at" orders images the same on every backend.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')

#: MySQL/MariaDB table options.  A binary collation makes names, tags and
#: property keys compare and sort case-sensitively, by code point, as they
#: do on SQLite and on PostgreSQL with the C collation; the default
#: (utf8mb4_general_ci) would make the properties "Foo" and "foo" collide.
MYSQL_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4',
                    'mysql_collate': 'utf8mb4_bin'}


class JSONText(TypeDecorator):
    """JSON kept as text, as the reference's metadef columns keep it; an
    empty column reads (and None is written) as ``empty()``."""

    impl = Text
    cache_ok = True

    def __init__(self, empty: Callable[[], Any]):
        super().__init__()
        self.empty = empty

    def process_bind_param(self, value, dialect):
        return json.dumps(self.empty() if value is None else value)

    def process_result_value(self, value, dialect):
        return json.loads(value) if value else self.empty()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of every glance table."""


class _Timestamps:
    created_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False, default=_now)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, nullable=True, default=_now, onupdate=_now)
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                          default=False)


#: sort key -> the columns of the list index that serves it (every sort
#: key of GET /v2/images; ties are broken by created_at then id, and id
#: alone is already a total order)
LIST_ORDER = {
    'created_at': ('created_at', 'id'),
    'updated_at': ('updated_at', 'created_at', 'id'),
    'name': ('name', 'created_at', 'id'),
    'status': ('status', 'created_at', 'id'),
    'size': ('size', 'created_at', 'id'),
    'disk_format': ('disk_format', 'created_at', 'id'),
    'container_format': ('container_format', 'created_at', 'id'),
    'id': ('id',),
}
#: backends whose indexes keep NULLs lowest, as lists order them
NULLS_LOW_DIALECTS = ('sqlite', 'mysql', 'mariadb')


class Image(_Timestamps, Base):
    __tablename__ = 'images'
    __table_args__ = (
        Index('checksum_image_idx', 'checksum'),
        Index('visibility_image_idx', 'visibility'),
        Index('ix_images_deleted', 'deleted'),
        Index('owner_image_idx', 'owner'),
        # a project's own images in list order (its private images, the
        # images it shares): read a page of them and stop
        Index('ix_images_list_owner', 'owner', 'deleted', 'os_hidden',
              'created_at', 'id'),
        Index('created_at_image_idx', 'created_at'),
        Index('updated_at_image_idx', 'updated_at'),
        Index('os_hidden_image_idx', 'os_hidden'),
        Index('os_hash_value_image_idx', 'os_hash_value'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    disk_format: Mapped[str | None] = mapped_column(String(20))
    container_format: Mapped[str | None] = mapped_column(String(20))
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    visibility: Mapped[str] = mapped_column(String(20), nullable=False,
                                            default='shared')
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    min_disk: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    owner: Mapped[str | None] = mapped_column(String(255))
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                            default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                            default=False)

    properties: Mapped[list['ImageProperty']] = relationship(
        back_populates='image', lazy='selectin',
        primaryjoin='and_(Image.id == ImageProperty.image_id, '
                    'ImageProperty.deleted == False)')
    tags: Mapped[list['ImageTag']] = relationship(
        back_populates='image', lazy='selectin',
        primaryjoin='and_(Image.id == ImageTag.image_id, '
                    'ImageTag.deleted == False)')
    locations: Mapped[list['ImageLocation']] = relationship(
        back_populates='image', lazy='selectin', order_by='ImageLocation.id',
        primaryjoin='and_(Image.id == ImageLocation.image_id, '
                    'ImageLocation.deleted == False)')


def _list_indexes(table) -> None:
    """The list indexes: each delivers a page in the order lists ask for.

    A list orders NULLs lowest (first ascending, last descending).  SQLite
    and MariaDB index NULLs lowest by themselves, so a plain index serves
    both directions; PostgreSQL indexes them highest, so a nullable sort
    key gets an index declared ``NULLS FIRST`` there instead (read forwards
    for ascending, backwards for descending).  SQLite and MariaDB cannot
    declare that, hence one index per family of backends, each created only
    on its own (``ddl_if``; the drift check honours it, see
    :func:`index_applies`).
    """
    c = table.c
    for key, columns in LIST_ORDER.items():
        name = 'ix_images_list_%s' % key
        plain = (c.deleted, c.os_hidden, *(c[col] for col in columns))
        if not c[key].nullable:
            Index(name, *plain)
            continue
        Index(name, *plain).ddl_if(dialect=NULLS_LOW_DIALECTS)
        Index(name + '_nulls_first', c.deleted, c.os_hidden,
              c[key].asc().nulls_first(),
              *(c[col] for col in columns[1:])).ddl_if(dialect='postgresql')


_list_indexes(Image.__table__)


def index_applies(index: Index, dialect_name: str) -> bool:
    """Whether ``index`` exists on a database of ``dialect_name``."""
    only = index._ddl_if.dialect if index._ddl_if is not None else None
    if only is None:
        return True
    return dialect_name == only if isinstance(only, str) \
        else dialect_name in only


class ImageProperty(_Timestamps, Base):
    __tablename__ = 'image_properties'
    __table_args__ = (
        UniqueConstraint('image_id', 'name',
                         name='ix_image_properties_image_id_name'),
        Index('ix_image_properties_name', 'name'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey('images.id'),
                                          nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    value: Mapped[str | None] = mapped_column(Text)
    image: Mapped[Image] = relationship(back_populates='properties')


class ImageTag(_Timestamps, Base):
    __tablename__ = 'image_tags'
    __table_args__ = (
        Index('ix_image_tags_image_id_tag_value', 'image_id', 'value'),
        # lists by a tag: its images in list order (newest first by
        # default), read from the tag's rows until a page is full
        Index('ix_image_tags_list', 'value', 'deleted', 'image_created_at',
              'image_id'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey('images.id'),
                                          nullable=False)
    value: Mapped[str] = mapped_column(String(255), nullable=False)
    #: the image's created_at, so a tag's images can be read in list order
    #: from its rows (kept by glance.db.sqlalchemy.images, which writes
    #: every tag; an image's created_at never changes)
    image_created_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False)
    image: Mapped[Image] = relationship(back_populates='tags')


class ImageLocation(_Timestamps, Base):
    __tablename__ = 'image_locations'
    __table_args__ = (
        Index('ix_image_locations_image_id', 'image_id'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey('images.id'),
                                          nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    meta_data: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), nullable=False,
                                        default='active')
    image: Mapped[Image] = relationship(back_populates='locations')


class ImageMember(_Timestamps, Base):
    __tablename__ = 'image_members'
    __table_args__ = (
        # one row per pair, live or removed: a membership added again
        # revives its row (see glance.db.sqlalchemy.members.create)
        UniqueConstraint('image_id', 'member',
                         name='uq_image_members_image_id_member'),
        Index('ix_image_members_image_id_member', 'image_id', 'member'),
        # "shared with me" in lists: the caller's memberships by status,
        # and of any status, each in list order (by the image's age)
        Index('ix_image_members_list', 'member', 'status', 'deleted',
              'image_created_at', 'image_id'),
        Index('ix_image_members_list_all', 'member', 'deleted',
              'image_created_at', 'image_id'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey('images.id'),
                                          nullable=False)
    member: Mapped[str] = mapped_column(String(255), nullable=False)
    can_share: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                            default=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False,
                                        default='pending')
    #: the image's created_at (see ImageTag.image_created_at; kept by
    #: glance.db.sqlalchemy.members)
    image_created_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False)


class Task(_Timestamps, Base):
    __tablename__ = 'tasks'
    __table_args__ = (
        Index('ix_tasks_type', 'type'),
        Index('ix_tasks_status', 'status'),
        Index('ix_tasks_owner', 'owner'),
        Index('ix_tasks_image_id', 'image_id'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    owner: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    image_id: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))


class TaskInfo(Base):
    __tablename__ = 'task_info'
    __table_args__ = MYSQL_TABLE_ARGS

    task_id: Mapped[str] = mapped_column(String(36), ForeignKey('tasks.id'),
                                         primary_key=True)
    input: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)


class NodeReference(Base):
    """An API node sharing the database: its worker_self_reference_url."""

    __tablename__ = 'node_reference'
    __table_args__ = (
        UniqueConstraint('node_reference_url',
                         name='uq_node_reference_node_reference_url'),
        MYSQL_TABLE_ARGS,
    )

    node_reference_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=True)
    node_reference_url: Mapped[str] = mapped_column(String(255),
                                                    nullable=False)


class CachedImage(Base):
    """An image file in the local cache of one node (centralized_db)."""

    __tablename__ = 'cached_images'
    __table_args__ = (
        UniqueConstraint('image_id', 'node_reference_id',
                         name='uq_cached_images_image_id_node_reference_id'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), nullable=False)
    last_accessed: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False)
    last_modified: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hits: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    checksum: Mapped[str | None] = mapped_column(String(32))
    stamp: Mapped[str | None] = mapped_column(String(64))
    node_reference_id: Mapped[int] = mapped_column(
        Integer, ForeignKey('node_reference.node_reference_id'),
        nullable=False)


# ---------------------------------------------------------------- metadefs
# The metadata definitions catalog.  Its rows are hard-deleted: a
# definition is a document an operator maintains (and reloads from
# etc/metadefs), not a record anyone must be able to audit afterwards.


class _MetadefTimestamps:
    created_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False, default=_now)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, nullable=True, default=_now, onupdate=_now)


class MetadefNamespace(_MetadefTimestamps, Base):
    __tablename__ = 'metadef_namespaces'
    __table_args__ = (
        UniqueConstraint('namespace', name='uq_metadef_namespaces_namespace'),
        Index('ix_metadef_namespaces_owner', 'owner'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(80), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32), nullable=False,
                                            default='private')
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                            default=False)
    owner: Mapped[str | None] = mapped_column(String(255))


class MetadefObject(_MetadefTimestamps, Base):
    __tablename__ = 'metadef_objects'
    __table_args__ = (
        UniqueConstraint('namespace_id', 'name',
                         name='uq_metadef_objects_namespace_id_name'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey('metadef_namespaces.id'), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    #: the property names an instance must have
    required: Mapped[list | None] = mapped_column(JSONText(list))
    #: property name -> property definition
    properties: Mapped[dict] = mapped_column('json_schema', JSONText(dict),
                                             nullable=False)


class MetadefProperty(_MetadefTimestamps, Base):
    __tablename__ = 'metadef_properties'
    __table_args__ = (
        UniqueConstraint('namespace_id', 'name',
                         name='uq_metadef_properties_namespace_id_name'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey('metadef_namespaces.id'), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    #: the property definition without its name
    definition: Mapped[dict] = mapped_column('json_schema', JSONText(dict),
                                             nullable=False)


class MetadefTag(_MetadefTimestamps, Base):
    __tablename__ = 'metadef_tags'
    __table_args__ = (
        UniqueConstraint('namespace_id', 'name',
                         name='uq_metadef_tags_namespace_id_name'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey('metadef_namespaces.id'), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)


class MetadefResourceType(_MetadefTimestamps, Base):
    __tablename__ = 'metadef_resource_types'
    __table_args__ = (
        UniqueConstraint('name', name='uq_metadef_resource_types_name'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                            default=False)


class MetadefNamespaceResourceType(_MetadefTimestamps, Base):
    __tablename__ = 'metadef_namespace_resource_types'
    __table_args__ = (
        Index('ix_metadef_ns_res_types_namespace_id', 'namespace_id'),
        MYSQL_TABLE_ARGS,
    )

    resource_type_id: Mapped[int] = mapped_column(
        Integer, ForeignKey('metadef_resource_types.id'), primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey('metadef_namespaces.id'), primary_key=True)
    properties_target: Mapped[str | None] = mapped_column(String(80))
    prefix: Mapped[str | None] = mapped_column(String(80))


# ------------------------------------------------------------------ leases
# Who is doing long work on an image, and whether they are still alive.
# See glance/async_/leases.py for the rules.


class LeaseHolder(Base):
    """One API process (host, pid, boot id) and its last heartbeat."""

    __tablename__ = 'lease_holders'
    __table_args__ = (
        Index('ix_lease_holders_heartbeat_at', 'heartbeat_at'),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False, default=_now)
    heartbeat_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False, default=_now)


class ImageLease(Base):
    """A long operation (upload, stage, import) on one image and its
    holder; at most one per image."""

    __tablename__ = 'image_leases'
    __table_args__ = (
        Index('ix_image_leases_holder_id', 'holder_id'),
        MYSQL_TABLE_ARGS,
    )

    image_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operation: Mapped[str] = mapped_column(String(30), nullable=False)
    holder_id: Mapped[str] = mapped_column(String(255), nullable=False)
    task_id: Mapped[str | None] = mapped_column(String(36))
    #: comma-separated store ids the operation writes to ('' = default)
    stores: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False, default=_now)


class StagedImage(Base):
    """Staged data that was received whole: its size and hash."""

    __tablename__ = 'staged_images'
    __table_args__ = MYSQL_TABLE_ARGS

    image_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash_algo: Mapped[str] = mapped_column(String(64), nullable=False)
    hash_value: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        Timestamp, nullable=False, default=_now)
