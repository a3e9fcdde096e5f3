"""What resellers and support staff use, on top of tenants/."""
