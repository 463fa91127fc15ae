"""Fleet fixtures live in tests/conftest.py (shared with the viz tests)."""
