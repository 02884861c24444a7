"""Operations that take several steps down the chain: the upload protocol
and the acceptance of an import.  Controllers and flows call these instead
of driving the repository step by step themselves."""
