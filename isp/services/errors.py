"""Errors a service raises for the caller to show to the user."""


class ServiceError(Exception):
    """A refused operation, with a message fit for the operator."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
