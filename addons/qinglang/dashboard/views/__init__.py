"""The dashboard's page handlers, one module per group of pages; ``app`` routes to them."""
