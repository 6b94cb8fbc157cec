"""Test helpers for notebooks that use lc_callbacks_nb (opt-in pytest plugins).

``lc_callbacks_nb.testing.nbval``: make nbval compare the final state of updated displays.
"""
