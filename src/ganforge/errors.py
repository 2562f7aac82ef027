"""The one exception type for user mistakes; the CLI prints it as one line without a traceback."""


class GanforgeError(Exception):
    """A problem the user can fix: bad input, a missing file, an impossible setting."""

    def __init__(self, what: str, where: str | None = None, fix: str | None = None):
        parts = [what] + [p for p in (where, fix) if p]
        super().__init__(", ".join(parts))
