"""Builds the repository chain; the one place its order is written down.

policy -> quota -> location -> notifier -> db: a call is authorised before
anything is counted, counted before bytes move, and announced only once it
has been persisted below.  What each repository offers is declared in
``glance.domain.repositories``.
"""
from __future__ import annotations

from typing import Any

from glance.db import images as db_images
from glance.domain.image import Image
from glance.domain.repositories import (ImageRepository, MemberRepository,
                                        MetadefRepository, TaskRepository)
from glance.layers import (location, notifier, policy, property_protection,
                           quota)

#: the layers of the image repository, outermost first (property
#: protections are the second half of "may this caller do this")
IMAGE_LAYERS = (policy.ImageRepo, property_protection.ImageRepo,
                quota.ImageRepo, location.ImageRepo, notifier.ImageRepo)


def wrap(repo: Any, context: Any,
         layers: tuple = IMAGE_LAYERS) -> ImageRepository:
    """``repo`` wrapped in ``layers``, the first of them outermost.

    Separate from :func:`get_repo` so tests can put the real chain over a
    recording repository and see every call reach the bottom.
    """
    for layer in reversed(layers):
        repo = layer(repo, context)
    return repo


def get_repo(context: Any) -> ImageRepository:
    """The image repository for ``context``, wrapped in every layer."""
    return wrap(db_images.ImageRepo(context), context)


def get_task_repo(context: Any) -> TaskRepository:
    """The task repository of the tasks API: policy, notifier, database."""
    return policy.TaskRepo(get_internal_task_repo(context), context)


def get_internal_task_repo(context: Any) -> TaskRepository:
    """Tasks as import code records them (the import itself was
    authorised): notifier over the database."""
    from glance.db import tasks as db_tasks
    return notifier.TaskRepo(db_tasks.TaskRepo(context), context)


def get_member_repo(context: Any, image: Image) -> MemberRepository:
    """The memberships of ``image`` (loaded through :func:`get_repo`),
    wrapped in policy -> quota -> location -> notifier (location: who may
    read the data in stores that control access)."""
    from glance.db import members as db_members
    repo = notifier.MemberRepo(db_members.MemberRepo(context, image),
                               context)
    repo = location.MemberRepo(repo, context, image)
    repo = quota.MemberRepo(repo, context)
    return policy.MemberRepo(repo, context, image)


def get_metadef_repo(context: Any) -> MetadefRepository:
    """The metadata definitions catalog: policy -> notifier -> database
    (no quotas and no bytes in it)."""
    from glance.db import metadefs as db_metadefs
    repo = notifier.MetadefRepo(db_metadefs.MetadefRepo(context), context)
    return policy.MetadefRepo(repo, context)
