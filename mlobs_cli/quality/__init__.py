"""Model quality: concept drift with and without labels (`mlobs drift concept`)."""
