"""Errors a student may see. A `StudentError`'s message is a sentence written for them (what went wrong, what to
do) and is shown as it is; anything else that goes wrong is logged with its details on the server and the student
gets a plain sentence instead (core/worker.py), never an exception's text or a server path."""


class StudentError(Exception):
    """Raised with a message a student can read."""


class LimitError(StudentError):
    """The class's limits (core/classroom.py) or the queue refuse a run."""
