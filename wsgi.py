"""WSGI entry point for gunicorn and the flask CLI."""
from isp import create_app

app = create_app()
