"""The one exception for a user's mistake: the CLI prints its message on one line and exits."""


class UserError(Exception):
    """Bad input from the user (a flag, a file, a checkpoint): one clear line, no traceback."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
