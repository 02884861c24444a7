"""The import flows as a conductor rebuilds them from plain data.

A conductor calls the factory recorded with each job (the one the job's
flow names in ``glance.async_.jobs.FLOWS``) with the inputs the API
recorded, and gets the very flow the in-process executor runs:

* :func:`import_flow`, an image import (inputs:
  :func:`glance.async_.jobs.spec_details`; the flow of
  :func:`glance.async_.flows.api_image_import.get_flow`);
* :func:`legacy_flow`, a legacy ``import`` task of POST /v2/tasks (the
  flow of :func:`glance.async_.flows.legacy_import.get_flow`).

Their atoms pass each other only plain data and each one is safe to start
again after a crash, so taskflow's persistence can resume them on any
worker from the last finished atom.
"""
from __future__ import annotations

from taskflow.patterns import linear_flow

from glance.async_.flows import api_image_import as flows
from glance.async_.flows import legacy_import
from glance import context as glance_context


def _context(ctx: dict) -> glance_context.RequestContext:
    return glance_context.RequestContext.from_dict(
        ctx, service_catalog=ctx.get('service_catalog'))


def spec_from_details(spec: dict) -> flows.ImportSpec:
    """The ImportSpec :func:`glance.async_.jobs.spec_details` recorded."""
    values = dict(spec)
    context = _context(values.pop('context'))
    return flows.ImportSpec(context=context, **values)


def import_flow(spec: dict) -> linear_flow.Flow:
    """The image import's flow factory (``jobs.FLOWS``)."""
    import_spec = spec_from_details(spec)
    import_spec.context.update_store()      # log lines carry its ids
    return flows.get_flow(import_spec)


def legacy_flow(context: dict, task_id: str, task_input: dict,
                image_id: str) -> linear_flow.Flow:
    """The legacy import task's flow factory (``jobs.FLOWS``): the
    caller's ``context`` as :func:`legacy_import.job` recorded it, and the
    id the image is created with (fixed when the task was accepted, so
    the atom creating it can be started again)."""
    ctx = _context(context)
    ctx.update_store()                      # log lines carry its ids
    return legacy_import.get_flow(ctx, task_id, task_input,
                                  image_id=image_id)
