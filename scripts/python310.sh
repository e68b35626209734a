#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 needs < 3.11), or fails with a clear message.
set -u
candidates=()
if command -v pyenv >/dev/null 2>&1; then
  prefix=$(pyenv prefix 3.10.13 2>/dev/null || true)
  [ -n "$prefix" ] && candidates+=("$prefix/bin/python3.10")
  for p in "$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10; do candidates+=("$p"); done
fi
candidates+=("$HOME/.pyenv/versions/3.10.13/bin/python3.10" "$(command -v python3.10 2>/dev/null || true)")
for py in "${candidates[@]}"; do
  if [ -n "$py" ] && [ -x "$py" ] && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
    echo "$py"; exit 0
  fi
done
echo "error: cskh needs Python 3.10 (Rasa 3.6.21 supports Python < 3.11). Install it, e.g. 'pyenv install 3.10.13'." >&2
exit 1
