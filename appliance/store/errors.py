"""The store's one error type, below every store module so each can raise it."""


class StoreError(Exception):
    """Storage failed; the message is one line meant for the user."""
