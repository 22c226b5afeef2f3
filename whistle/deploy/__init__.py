"""The deployment files, shipped inside the package so an installed wheel has them.

gunicorn.conf.py (the hardened gunicorn settings), the systemd units and the tor configuration
are read from here by ``whistle demo`` and written out by ``whistle server setup``
(docs/deployment.md explains every line of each).
"""

from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent
GUNICORN_CONF = DEPLOY_DIR / "gunicorn.conf.py"
