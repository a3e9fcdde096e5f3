"""Reseller settings: api keys."""
