"""Application verbs built on trained runs: one module each (augment, ...)."""
