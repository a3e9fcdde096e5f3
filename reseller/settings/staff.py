"""Reseller settings: staff."""
