"""Django REST Framework + simplejwt as a peer for portcullis-bench.

RS256 (keys in PEER_DATA_DIR), refresh-token rotation with the blacklist
app, SQLite, Django's default password hasher (PBKDF2). Served by
gunicorn with two workers: `start.sh`.
"""
import os
from datetime import timedelta
from pathlib import Path

DATA = Path(os.environ.get("PEER_DATA_DIR", "."))


def _read(name):
    path = DATA / name
    return path.read_text() if path.exists() else ""


SECRET_KEY = "benchmark-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA / "peer.db"),
        "OPTIONS": {"timeout": 20},
    }
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": _read("rsa.pem"),
    "VERIFYING_KEY": _read("rsa.pub.pem"),
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
}
LOGGING = {"version": 1, "disable_existing_loggers": True}
