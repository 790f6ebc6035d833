"""`digitlens serve`: an HTTP API and a web page over the public reading API.

Needs the `serve` extra (FastAPI, uvicorn, python-multipart, Swagger UI's assets):
`pip install "digitlens[serve]"`.  Importing this package imports none of them;
`digitlens.serve.app.create_app(Settings(...))` builds the application.
"""

from digitlens.serve.config import Settings

__all__ = ["Settings"]
