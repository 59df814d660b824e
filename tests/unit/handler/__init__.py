"""Unit tests of the Lambda handler in src/handler (run without AWS)."""
