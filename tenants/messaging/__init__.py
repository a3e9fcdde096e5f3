"""Messaging: Send SMS from the portal and the API, its sending pipeline and delivery reports."""
