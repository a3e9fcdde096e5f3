"""Postpaid billing: periods, the postpaid account, payments and the monthly invoice run."""
