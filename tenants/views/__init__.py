"""What organization owners, admins and members use (and the shared sign-in pages)."""
