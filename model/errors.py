"""The learner's error type: a message a user can act on, never a traceback to decode."""


class LearnerError(Exception):
    """Bad input (bundle, list file, config, checkpoint) the user must fix."""
