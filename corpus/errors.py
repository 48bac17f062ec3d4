"""Errors a user can act on. The CLI prints their message, never a traceback."""


class SubtextError(Exception):
    """Bad input or a failed precondition, with a message that names the input."""


class ClassListError(SubtextError):
    pass


class ConfigError(SubtextError):
    pass


class BundleError(SubtextError):
    """A bundle that is missing, incomplete, tampered with or of another schema."""


class LLMError(SubtextError):
    """An endpoint that could not give a usable reply within its retry budget.

    `transient`: the endpoint never answered usefully (connection refused or reset,
    timeout, 5xx, 429) until the transport retry budget ran out, so a later run may
    succeed. Replies that arrived but failed validation are cached and would fail the
    same way again, so they are not transient."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class LLMFatalError(LLMError):
    """An endpoint refusal no retry can fix (bad key, unknown model): stops the run."""


class ReplyInvalid(ValueError):
    """A reply that arrived but does not match the requested structure (re-asked by the
    LLM client up to its `attempts`; never shown to a user as an error of theirs)."""
