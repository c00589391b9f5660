"""Shared test configuration. Fixtures that start servers live beside the tests that need them."""
