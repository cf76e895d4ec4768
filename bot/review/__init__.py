"""The review workbench (issue 7): handlers resolve flagged orders in a web UI.

``app.create_app`` builds the Starlette application; ``orderbot review serve``
runs it with uvicorn. Modules: ``store`` (the workbench's tables), ``auth``
(accounts, sessions, CSRF), ``locks`` (one handler per order), ``audit``
(every view and change), ``corrections`` (edits as labelled examples),
``render`` (the source beside the fields), ``queries`` (the queue),
``actions`` (approve, reject, ask, duplicate, apply/decline).
"""
