"""The checks, one module per area of the best-practices document."""
