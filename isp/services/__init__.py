"""Business operations. They flush, never commit; the view, job or command commits once."""
