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
# What the install depends on: the lockfile, the workspace layout, every package.json, and the
# Node and pnpm versions. A stamp inside node_modules (so a fresh clone or a wiped
# node_modules always installs) records the hash of the last successful install.
install_hash=$(node -e '
  const { createHash } = require("node:crypto"), fs = require("node:fs"), path = require("node:path")
  const files = ["pnpm-lock.yaml", "pnpm-workspace.yaml", "package.json"]
  for (const dir of ["packages", "tools"]) {
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
      const f = path.join(dir, name, "package.json")
      if (fs.existsSync(f)) files.push(f)
    }
  }
  const h = createHash("sha256").update(process.version)
  for (const f of files) h.update(f).update("\0").update(fs.existsSync(f) ? fs.readFileSync(f) : "")
  process.stdout.write(h.digest("hex"))
')-$PNPM_VERSION
install_stamp=node_modules/.p2pd-install-stamp
if [ -f "$install_stamp" ] && [ "$(cat "$install_stamp")" = "$install_hash" ]; then
  echo "› pnpm install (skipped: lockfile and package.json files unchanged)"
else
  echo "› pnpm install"
  install_log=$(mktemp)
  if ! CI=true pnpm install --frozen-lockfile >"$install_log" 2>&1; then
    cat "$install_log" >&2
    rm -f "$install_log"
    exit 1
  fi
  rm -f "$install_log"
  printf '%s' "$install_hash" >"$install_stamp"
fi
