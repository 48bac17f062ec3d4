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
    """An endpoint that could not give a usable reply within its retry budget."""


class LLMFatalError(LLMError):
    """An endpoint refusal no retry can fix (bad key, unknown model): stops the run."""


class ReplyInvalid(ValueError):
    """A reply that arrived but does not match the requested structure (re-asked by the
    LLM client up to its `attempts`; never shown to a user as an error of theirs)."""
