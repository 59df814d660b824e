"""The measurements of bench/run.py, one module per figure (see bench/README.md)."""
