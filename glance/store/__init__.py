"""glance.store: image data stores behind one interface, usable alone."""
from glance.store.backend import (add_to_backend, check_deletable,  # noqa
                                  delete_from_backend, discard_from_backend,
                                  get_from_backend, get_size_from_backend,
                                  get_store_from_store_identifier,
                                  register_opts, create_stores, list_stores,
                                  set_acls_for_image)
from glance.store.exceptions import *  # noqa
