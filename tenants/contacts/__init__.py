"""Contacts (SPEC §4a): contact lists, their CSV imports and the opt-out list."""
