"""Reseller settings: pricing."""
