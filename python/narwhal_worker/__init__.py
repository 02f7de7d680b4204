"""narwhal's Python worker: imports a WSGI app and serves requests that Node sends over a
socket (fd 3) with the frame protocol of docs/protocol.md. Standard library only."""

__version__ = "0.1.0"
