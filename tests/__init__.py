"""Test package marker: gives test modules package-qualified names, so equal file names in different folders cannot collide."""
