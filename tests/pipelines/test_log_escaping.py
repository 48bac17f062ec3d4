"""Prefect's own log handlers (console and API/UI) escape control characters in every
record, message and exception text alike, whoever logged it."""

import logging

from pipelines.corpus_flow import _prefect_handlers, escape_controls_in_logs


def test_every_prefect_handler_escapes_a_hostile_record():
    escape_controls_in_logs()
    handlers = _prefect_handlers()
    assert {type(h).__name__ for h in handlers} >= {"PrefectConsoleHandler", "APILogHandler"}
    try:
        raise ValueError("reply \x1b]0;owned\x07 \u202eevil")
    except ValueError as err:
        exc_info = (type(err), err, err.__traceback__)
    for handler in handlers:
        record = logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1,
                                   "class %s failed", ("\x1b[2Jjump",), exc_info)
        assert handler.filter(record)
        shown = record.getMessage() + record.exc_text
        assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
        assert "class \\x1b[2Jjump failed" in shown and "\\u202eevil" in shown
