"""lc_callbacks_nb."""
