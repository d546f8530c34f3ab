#!/usr/bin/env bash
# Starts Django REST Framework + simplejwt on 127.0.0.1:PORT for
# portcullis-bench: a virtualenv from PyPI (cached in PEER_CACHE), a fresh
# SQLite database and RSA key in PEER_DATA_DIR, the user bench/PASSWORD,
# then gunicorn with two workers in the foreground.
# Usage: start.sh PORT PASSWORD   (PEER_CACHE and PEER_DATA_DIR must be set)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="$1" password="$2"
venv="$PEER_CACHE/django-venv"
if [ ! -x "$venv/bin/gunicorn" ] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
mkdir -p "$PEER_DATA_DIR"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PEER_DATA_DIR/rsa.pem" 2>/dev/null
openssl pkey -in "$PEER_DATA_DIR/rsa.pem" -pubout -out "$PEER_DATA_DIR/rsa.pub.pem"
export PYTHONPATH="$here" DJANGO_SETTINGS_MODULE=settings PEER_DATA_DIR
cd "$PEER_DATA_DIR"
"$venv/bin/django-admin" migrate --verbosity 0
BENCH_PASSWORD="$password" "$venv/bin/python" -c '
import os, django
django.setup()
from django.contrib.auth.models import User
User.objects.create_user("bench", password=os.environ["BENCH_PASSWORD"])
'
exec "$venv/bin/gunicorn" --workers 2 --bind "127.0.0.1:$port" --log-level warning \
  "django.core.wsgi:get_wsgi_application()"
