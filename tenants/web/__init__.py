"""The shared web kit: the session and its actor, locale, templating, view decorators."""
