"""oslo.policy rule defaults, declared as data, one module per resource."""
import itertools

from glance.policies import base, cache, discovery, image, member, metadef
from glance.policies import task


def list_rules():
    """Every rule default, for the enforcer and the sample generator."""
    return list(itertools.chain(base.list_rules(), image.list_rules(),
                                task.list_rules(), discovery.list_rules(),
                                member.list_rules(), cache.list_rules(),
                                metadef.list_rules()))
