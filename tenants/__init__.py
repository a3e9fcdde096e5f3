"""The core: multi-tenancy and the customer organization domain."""
