#!/usr/bin/env sh
# Print the path of a working Python 3.10 (Rasa 3.6 needs it), or explain how to get one.
if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
  command -v python3.10
  exit 0
fi
for candidate in $(ls -d "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
  if "$candidate" -c 'import venv' >/dev/null 2>&1; then
    echo "$candidate"
    exit 0
  fi
done
cat >&2 <<'MSG'
Python 3.10 is required (Rasa 3.6 runs on Python 3.10 only) and none was found.
Install one, then run make again:
  - Debian/Ubuntu: sudo apt-get install python3.10 python3.10-venv (or the deadsnakes PPA on Ubuntu)
  - pyenv:         pyenv install 3.10.13
MSG
exit 1
