#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked
# gnome-keyring Secret Service, so keyring tests (and real codex with
# cli_auth_credentials_store = "keyring") get a real, throwaway keyring.
#
#   scripts/with-secret-service.sh CMD [ARGS...]
#
# The keyring lives in a scratch folder outside the repo, removed on exit;
# CMD keeps the caller's HOME. The exit status is CMD's. Needs
# dbus-run-session and gnome-keyring-daemon (Debian: apt-get install -y dbus
# gnome-keyring). dbus-daemon may print "Failed to set fd limit" in
# containers; that is harmless.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [ "$1" != "--inside-session" ]; then
  for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$0: $tool not found; install it with: apt-get install -y dbus gnome-keyring" >&2
      exit 127
    fi
  done
  exec dbus-run-session -- "$0" --inside-session "$@"
fi
shift

scratch=$(mktemp -d "${TMPDIR:-/tmp}/codex-auth-keyring.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# An empty password makes gnome-keyring ask a (missing) display for one, so
# unlock with a fixed one: the keyring is throwaway. HOME and the XDG folders
# point at the scratch folder so no real keyring is read or written. The
# daemon prints lines such as GNOME_KEYRING_CONTROL=… for clients to export.
daemon_env=$(
  printf %s test |
    HOME="$scratch" XDG_DATA_HOME="$scratch/data" XDG_CACHE_HOME="$scratch/cache" \
      XDG_RUNTIME_DIR="$scratch/run" XDG_CONFIG_HOME="$scratch/config" \
      gnome-keyring-daemon --unlock --components=secrets --daemonize
)
export GNOME_KEYRING_CONTROL="$scratch/run/keyring"
while IFS= read -r line; do
  case "$line" in
  GNOME_KEYRING_*=*) export "${line?}" ;;
  esac
done <<<"$daemon_env"
# Tells the test suite that this keyring is throwaway, so it may write to it.
export CODEX_AUTH_SECRET_SERVICE=scratch

"$@"
