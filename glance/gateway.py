"""Builds the repository chain; the one place its order is written down.

policy -> quota -> location -> notifier -> db: a call is authorised before
anything is counted, counted before bytes move, and announced only once it
has been persisted below.
"""
from __future__ import annotations

from glance.db import images as db_images
from glance.layers import location, notifier, policy, quota

#: the layers of the image repository, outermost first
IMAGE_LAYERS = (policy.ImageRepo, quota.ImageRepo, location.ImageRepo,
                notifier.ImageRepo)


def get_repo(context):
    """The image repository for ``context``, wrapped in every layer."""
    repo = db_images.ImageRepo(context)
    for layer in reversed(IMAGE_LAYERS):
        repo = layer(repo, context)
    return repo
