"""Sources through parsers into the store: the engine that runs a session.

`engine` reads each source, detects its format, parses its lines and records
the calls in the store; `parallel` reads large files on several cores for
`report` and `check`; `summary` turns a store into the figures a report prints.
"""
