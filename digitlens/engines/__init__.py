"""Other places to run `digitlens batch` than this machine's process pool.

Each engine is imported only when chosen (`--engine`), so the local path never imports
their dependencies.
"""
