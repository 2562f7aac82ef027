"""The one exception type for user mistakes; the CLI prints it as one line without a traceback."""


class GanforgeError(Exception):
    """A problem the user can fix: bad input, a missing file, an impossible setting.

    `exit_code` is what the CLI exits with: 2 for a user mistake (the default), 130 for an
    interrupted run (SIGINT/SIGTERM), 1 for a run that trained but failed (collapsed, diverged).
    """

    def __init__(
        self, what: str, where: str | None = None, fix: str | None = None, exit_code: int = 2
    ):
        parts = [what] + [p for p in (where, fix) if p]
        super().__init__(", ".join(parts))
        self.exit_code = exit_code
