"""Leaf helpers (no imports from the rest of rbonn_det): atomic file writes (io),
checkpoint file checks (checkpoint_checks), safe loading of MMEngine checkpoints
under torch's weights-only loader (safe_checkpoint_loading), benchmark timing."""
