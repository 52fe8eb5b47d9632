"""What the ingest, transforms and reporting code locations must agree on.

This package never imports a location. Locations depend on it, never on each other.
"""
