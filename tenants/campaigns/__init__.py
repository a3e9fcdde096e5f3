"""Automated SMS campaigns (SPEC §4a): a text to a contact list at a time, once or repeating,
with each run's credits reserved when it is scheduled."""
