"""One pytest session: what it knows, how it saves, and what it says at the end.

- `context`: the session's state (`RunContext`: settings, gate, datasets, sweep points, baton).
- `settings` / `options`: the plugin's options, declared and resolved once into typed settings.
- `saving`: saving runs so that nothing is lost and nothing incomplete is read as complete.
- `closing`, `summary`, `outcome`, `ignored`: the first and last words in the terminal.
- `bridge`: the only module that touches pytest-benchmark's internals.
"""
