"""Unit tests: one part at a time, with real files and sockets where the part uses them."""
