"""Unit tests of the packager core (no Docker)."""
