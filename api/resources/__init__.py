"""One module per URL family; each resource is a stateless instance shared by every thread."""
