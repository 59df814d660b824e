"""Repository-wide pytest configuration.

Deliberately minimal: fixtures live next to the tests that use them (for example
``tests/unit/handler/conftest.py``). Add only what every test suite needs.
"""
