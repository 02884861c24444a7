"""The layers of the repository chain, one concern per module.

``glance.gateway`` stacks them: policy -> quota -> location -> notifier -> db.
"""
