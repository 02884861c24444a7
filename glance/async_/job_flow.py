"""The import flow as a conductor rebuilds it from plain data.

A conductor calls :func:`import_flow` (the factory recorded with each job,
``glance.async_.jobs.FLOW_FACTORY``) with the inputs the API recorded
(:func:`glance.async_.jobs.spec_details`), and gets the very flow the
in-process executor runs (:func:`glance.async_.flows.api_image_import.
get_flow`).  Its atoms pass each other only plain data and each one is
safe to start again after a crash, so taskflow's persistence can resume
it on any worker from the last finished atom.
"""
from __future__ import annotations

from taskflow.patterns import linear_flow

from glance.async_.flows import api_image_import as flows
from glance import context as glance_context


def spec_from_details(spec: dict) -> flows.ImportSpec:
    """The ImportSpec :func:`glance.async_.jobs.spec_details` recorded."""
    values = dict(spec)
    ctx = values.pop('context')
    context = glance_context.RequestContext.from_dict(
        ctx, service_catalog=ctx.get('service_catalog'))
    return flows.ImportSpec(context=context, **values)


def import_flow(spec: dict) -> linear_flow.Flow:
    """The flow factory conductors call (see ``jobs.FLOW_FACTORY``)."""
    import_spec = spec_from_details(spec)
    import_spec.context.update_store()      # log lines carry its ids
    return flows.get_flow(import_spec)
