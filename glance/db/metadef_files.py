"""The metadata definitions catalog as JSON files (etc/metadefs/*.json).

``glance-manage db load_metadefs`` and ``export_metadefs`` call these
(``unload_metadefs`` calls ``metadefs.delete_all``).  They are operator
tools working on the database repository directly (no request, no policy,
no notifications): the operator owns the catalog, protected namespaces
included.

A file is one namespace in the shape POST /v2/metadefs/namespaces takes:
the namespace fields plus ``resource_type_associations``, ``properties``
(name -> definition), ``objects`` and ``tags``.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
from typing import Any

from glance.common import config
from glance.common import exception
from glance.db import metadefs
from glance.domain.metadef import (ASSOCIATIONS, NAMESPACES, OBJECTS,
                                   PROPERTIES, TAGS, Item, NamespaceQuery,
                                   add_contents, contents, new_item)
from glance import schemas
from glance.schemas import metadef as metadef_schemas

LOG = logging.getLogger(__name__)

#: where distribution packages install the catalog; export writes there
#: when given no path
DEFAULT_PATH = '/etc/glance/metadefs'
#: what a file leaves out: the catalog is the operator's, for everyone
FILE_DEFAULTS = {'visibility': 'public', 'protected': True, 'owner': 'admin'}
#: the database repository itself: no policy, no notifications
_REPO = metadefs.MetadefRepo(None)


def read_file(path: str) -> dict[str, Any]:
    """One namespace document, checked against the namespace schema."""
    with open(path, encoding='utf-8') as f:
        try:
            doc = json.load(f)
        except ValueError as exc:
            raise exception.Invalid('%s is not JSON: %s' % (path, exc))
    if not isinstance(doc, dict):
        raise exception.Invalid('%s does not hold a JSON object.' % path)
    try:
        schemas.validate(metadef_schemas.namespace_schema(), doc)
    except exception.Invalid as exc:
        raise exception.Invalid('%s: %s' % (path, exc))
    return doc


def _files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise exception.NotFound('No metadata definitions at %s.' % path)
    return sorted(glob.glob(os.path.join(path, '*.json')))


def _unprotected(ns: Item) -> Item:
    """``ns`` as this tool removes from it: protection keeps a namespace
    from the API's callers, not from the operator reloading the catalog."""
    return dataclasses.replace(ns, values={**ns.values, 'protected': False})


def _create(doc: dict[str, Any]) -> None:
    """An empty namespace, then everything the file lists merged in."""
    _REPO.add_item(None, new_item(NAMESPACES, None, {**FILE_DEFAULTS, **doc}))
    _merge(doc, prefer_new=False)


def _merge(doc: dict[str, Any], prefer_new: bool) -> None:
    """Add what the namespace lacks; with ``prefer_new`` also bring the
    namespace and what it has up to the file's values."""
    ns = _REPO.get_item(NAMESPACES, None, doc['namespace'])
    if prefer_new:
        ns.values.update({f: doc[f] for f in NAMESPACES.fields if f in doc})
        _REPO.save_item(None, ns)
    missing = {}
    for kind, items in contents(ns.name, doc).items():
        have = {i.name: i.values for i in _REPO.list_items(kind, ns)}
        for item in items if prefer_new else ():
            if item.name not in have:
                continue
            if kind is not ASSOCIATIONS:
                item.loaded_name = item.name
                _REPO.save_item(ns, item)
            elif have[item.name] != item.values:
                # an association is replaced, never changed
                _REPO.remove_item(_unprotected(ns), item)
                del have[item.name]
        missing[kind] = [i for i in items if i.name not in have]
    add_contents(_REPO, ns, missing)


def default_path() -> str:
    """The catalog loaded when no path is given: ``metadefs`` beside the
    configuration file, in /etc/glance, or the copy installed with the
    distribution (``<prefix>/etc/glance/metadefs``), the first that
    exists; DEFAULT_PATH (and so a clear "no metadata definitions at")
    when none does."""
    return config.find_config_file('metadefs') or DEFAULT_PATH


def load(path: str | None = None, merge: bool = False,
         prefer_new: bool = False, overwrite: bool = False
         ) -> dict[str, list[str]]:
    """Load every ``*.json`` namespace file of ``path`` (or one file;
    by default ``default_path()``); the namespaces created, merged,
    replaced and skipped, for the operator.

    A namespace that is not in the database yet is created.  One that is:
    left alone unless ``merge``; with ``merge`` the definitions it lacks
    are added, ``prefer_new`` also updates those it has from the file, and
    ``overwrite`` replaces it with the file altogether (what is not in the
    file goes).  Every file is read and checked before anything is
    written, so a bad file changes nothing.
    """
    docs = [read_file(p) for p in _files(path or default_path())]
    result: dict[str, list[str]] = {
        'created': [], 'merged': [], 'replaced': [], 'skipped': []}
    for doc in docs:
        name = doc['namespace']
        try:
            ns = _REPO.get_item(NAMESPACES, None, name)
        except exception.NotFound:
            _create(doc)
            result['created'].append(name)
            continue
        if not merge:
            LOG.info('Namespace %s exists; not merging it.', name)
            result['skipped'].append(name)
        elif overwrite:
            _REPO.remove_item(None, _unprotected(ns))
            _create(doc)
            result['replaced'].append(name)
        else:
            _merge(doc, prefer_new)
            result['merged'].append(name)
    return result


def export_namespace(name: str) -> dict[str, Any]:
    """One namespace as a document ``load`` reads back unchanged."""
    ns = _REPO.get_item(NAMESPACES, None, name)
    doc: dict[str, Any] = {'namespace': ns.name, **ns.shown()}
    for kind in (ASSOCIATIONS, PROPERTIES, OBJECTS, TAGS):  # as shipped
        items = _REPO.list_items(kind, ns)
        if kind.newest_first:
            items.reverse()     # a file lists them as they were made
        if kind.as_map and items:
            doc[kind.list_key] = {i.name: i.shown() for i in items}
        elif items:
            # an empty "required" says nothing in a file
            doc[kind.list_key] = [{'name': i.name, **{
                k: v for k, v in i.shown().items() if v != []}}
                for i in items]
    return doc


def file_name(namespace: str) -> str:
    """The export file of a namespace: ``OS::Compute::Watchdog`` ->
    ``OS-Compute-Watchdog.json`` (no colons: some file systems refuse
    them)."""
    return namespace.replace('::', '-').replace('/', '-') + '.json'


def export(path: str = DEFAULT_PATH) -> list[str]:
    """Write every namespace to ``path`` as one file each; their paths."""
    os.makedirs(path, exist_ok=True)
    written = []
    everything = NamespaceQuery(limit=2 ** 31 - 1, sort_key='namespace',
                                sort_dir='asc')
    for ns in _REPO.list_namespaces(everything, all_projects=True):
        target = os.path.join(path, file_name(ns.name))
        with open(target, 'w', encoding='utf-8') as f:
            json.dump(export_namespace(ns.name), f, indent=4,
                      ensure_ascii=False)
            f.write('\n')
        written.append(target)
    return written
