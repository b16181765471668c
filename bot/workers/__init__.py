"""Issue 17: the timed work on Celery workers (planning, dispatch, conversation recording) when a
broker is configured, and the leader lock that keeps one scheduler ticking. Importing this package
imports no Celery: the embedded default needs no broker."""
