# Sourced by test.sh and demo.sh: makes the pinned pnpm available and installs the workspace.
# Needs only the machine's Node and npm.
PNPM_VERSION=10.34.8
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "$(pnpm -v 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "› installing pnpm $PNPM_VERSION"
  if ! npm i -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1; then
    # No rights for a global install: keep a private copy inside the repo.
    npm i --prefix .tools "pnpm@$PNPM_VERSION" >/dev/null
    export PATH="$PWD/.tools/node_modules/.bin:$PATH"
  fi
fi
echo "› pnpm install"
install_log=$(mktemp)
if ! CI=true pnpm install --frozen-lockfile >"$install_log" 2>&1; then
  cat "$install_log" >&2
  rm -f "$install_log"
  exit 1
fi
rm -f "$install_log"
