"""The benchmark harness (`make bench`, `make bench-quick`); not part of the service."""
