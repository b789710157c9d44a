"""Two-stage training (``python -m export3d.training stage1|stage2|prepare|preprocess``)."""
