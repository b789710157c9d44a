"""Synthetic talking-head world."""
