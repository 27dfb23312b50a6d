"""One module per external system; each turns that system's failures into mlobs errors."""
