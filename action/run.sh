#!/usr/bin/env bash
# The GitHub Action's logic (action.yml calls it; tests/cli/action.rs runs
# it with a simulated GitHub environment).
#
#   run.sh locate  the release binary of the action's own version
#                  (downloaded, SHA-256 checked); else `build=true` and the
#                  cache directory and lock-file hash for actions/cache
#   run.sh build   the located binary, or `cargo install --locked` into the
#                  (cached) directory; writes `bin=PATH` to $GITHUB_OUTPUT
#   run.sh scan    scan as the INPUT_* variables say; writes the outputs
#                  `findings`, `live` and `sarif-file`, the job summary,
#                  annotations (or a text report) to the log, and with
#                  `comment: true` the pull-request comment
#
# Inputs arrive as environment variables, never as text spliced into this
# script, so an input (a branch name, a pull-request title) cannot inject
# commands. JSON (the event, the report, API answers) is read with jq,
# which GitHub's runners have; python3 is not needed.
#
# Exit status of `scan`: 0 no findings (or fail-on: never), 1 findings
# (with fail-on: live, a key verified live), 2 error.
set -euo pipefail

die() {
  echo "::error title=leakhound::$*"
  exit 2
}

output() {
  # name=value lines; values here never hold a newline.
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

need_jq() {
  command -v jq >/dev/null 2>&1 || die "jq not found: GitHub's runners have it; install it on a self-hosted runner"
}

# The version of the action's own checkout (its Cargo.toml).
action_version() {
  sed -n 's/^version = "\([^"]*\)"$/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1
}

# The release target of this runner, or nothing.
release_target() {
  case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
  Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64) echo aarch64-unknown-linux-musl ;;
  macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64) echo aarch64-apple-darwin ;;
  Windows/X64) echo x86_64-pc-windows-msvc ;;
  *) ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

# Download the release archive of the action's version for this runner and
# check it against the release's SHA-256. Sets `release_bin`; returns 1 when
# there is no such release (the caller builds instead). A checksum that does
# not match is an error, never a reason to fall back.
download_release() {
  local version target
  version=$(action_version)
  target=$(release_target)
  [ -n "$version" ] && [ -n "$target" ] || return 1
  command -v curl >/dev/null 2>&1 || return 1
  local base=${LEAKHOUND_RELEASE_URL:-https://github.com/leakhound/leakhound/releases/download}
  local name=leakhound-v$version-$target ext=tar.gz
  [[ $target != *windows* ]] || ext=zip
  local dir=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/leakhound-v$version
  mkdir -p "$dir"
  local archive=$dir/$name.$ext
  echo "downloading leakhound v$version ($target)" >&2
  if ! curl -fsSL --retry 3 -o "$archive" "$base/v$version/$name.$ext" ||
    ! curl -fsSL --retry 3 -o "$archive.sha256" "$base/v$version/$name.$ext.sha256"; then
    echo "no release v$version for $target: building from source" >&2
    return 1
  fi
  local want got
  want=$(cut -d ' ' -f 1 <"$archive.sha256")
  got=$(sha256_of "$archive")
  [[ $want =~ ^[0-9a-f]{64}$ ]] || die "$name.$ext.sha256 holds no SHA-256"
  [ "$want" = "$got" ] || die "$name.$ext: SHA-256 $got does not match the release's $want"
  echo "SHA-256 $got checked" >&2
  if [ "$ext" = zip ]; then
    (cd "$dir" && { unzip -qo "$archive" || 7z x -y "$archive" >/dev/null; })
    release_bin=$dir/$name/leakhound.exe
  else
    tar -xzf "$archive" -C "$dir"
    release_bin=$dir/$name/leakhound
  fi
}

locate() {
  release_bin=""
  if [ -n "${LEAKHOUND_BIN:-}" ]; then
    output bin "$LEAKHOUND_BIN"
  elif download_release; then
    "$release_bin" --version >&2 || die "the downloaded $release_bin does not run"
    output bin "$release_bin"
  else
    # Built with cargo into a directory actions/cache keeps, keyed by the
    # lock file: a later run with the same lock file builds nothing.
    local lock_hash
    lock_hash=$(sha256_of "$GITHUB_ACTION_PATH/Cargo.lock")
    output build true
    output cache-dir "${LEAKHOUND_CACHE_DIR:-$HOME/.cache/leakhound}/cargo-install"
    output lock-hash "$lock_hash"
  fi
}

build() {
  local bin
  if [ -n "${LEAKHOUND_BIN:-}" ]; then
    [ -x "$LEAKHOUND_BIN" ] || die "LEAKHOUND_BIN=$LEAKHOUND_BIN is not an executable"
    bin=$LEAKHOUND_BIN
  else
    local root=${LEAKHOUND_CACHE_DIR:-$HOME/.cache/leakhound/cargo-install}
    bin=$root/bin/leakhound
    if [ -x "$bin" ]; then
      echo "using the cached $bin ($("$bin" --version))"
    else
      command -v cargo >/dev/null 2>&1 ||
        die "no release binary and cargo not found: install a Rust toolchain (dtolnay/rust-toolchain) before this step"
      echo "building leakhound with cargo install --locked (into $root)"
      cargo install --locked --path "$GITHUB_ACTION_PATH" --root "$root"
    fi
  fi
  output bin "$bin"
}

# Print one field of the event JSON (a jq path such as `.pull_request.number`),
# or nothing.
event_field() {
  jq -r "($1) // empty | tostring" "$GITHUB_EVENT_PATH"
}

is_sha() {
  [[ $1 =~ ^[0-9a-fA-F]{7,64}$ ]]
}

# Arguments that select what to scan, for the mode, in the array `select`.
select_mode() {
  local mode=$1
  select=()
  case $mode in
  pull-request)
    [ -n "${GITHUB_EVENT_PATH:-}" ] || die "mode pull-request needs GITHUB_EVENT_PATH"
    local base head
    base=$(event_field .pull_request.base.sha)
    head=$(event_field .pull_request.head.sha)
    if ! is_sha "$base" || ! is_sha "$head"; then
      die "mode pull-request: no pull_request.base.sha/head.sha in the event (event: ${GITHUB_EVENT_NAME:-unknown})"
    fi
    select=(--range "$base..$head")
    pr_base=$base
    pr_head=$head
    ;;
  push)
    [ -n "${GITHUB_EVENT_PATH:-}" ] || die "mode push needs GITHUB_EVENT_PATH"
    local before after default_branch
    before=$(event_field .before)
    after=$(event_field .after)
    is_sha "$after" || die "mode push: no \`after\` commit in the event"
    default_branch=$(event_field .repository.default_branch)
    if is_sha "$before" && [[ ! $before =~ ^0+$ ]] &&
      git -C "$path" cat-file -e "$before^{commit}" 2>/dev/null; then
      select=(--range "$before..$after")
    elif is_sha "$before" && [[ ! $before =~ ^0+$ ]]; then
      # A force-push: `before` is gone. Scan from where the branch left the
      # default branch.
      local base=""
      if [ -n "$default_branch" ]; then
        base=$(git -C "$path" merge-base "refs/remotes/origin/$default_branch" "$after" 2>/dev/null) || base=""
      fi
      if [ -n "$base" ] && [ "$base" != "$after" ]; then
        echo "leakhound: the pushed-over commit ${before:0:12} is gone (a force-push): scanning from the merge base with origin/$default_branch"
        select=(--range "$base..$after")
      else
        echo "leakhound: the pushed-over commit ${before:0:12} is gone (a force-push) and there is no merge base to start from: scanning the whole history"
        select=(--git)
      fi
    else
      # A new branch: its commits are those the default branch lacks.
      if [ -n "$default_branch" ] &&
        git -C "$path" rev-parse --verify --quiet "refs/remotes/origin/$default_branch" >/dev/null; then
        select=(--since "origin/$default_branch")
      else
        echo "leakhound: new branch and no origin/${default_branch:-<default branch>} to compare with: scanning the whole history"
        select=(--git)
      fi
    fi
    ;;
  history) select=(--git) ;;
  files) select=() ;;
  *) die "mode \`$mode\` is not one of pull-request, push, history, files" ;;
  esac
}

# `comment: true`: the job summary as a pull-request comment, created once
# and updated in place on later runs (found by a marker line). Never fails
# the step: on a fork's pull request the token is read-only and the comment
# is skipped with a warning. The token goes to curl in a header file, never
# on a command line or in the log.
pr_comment() {
  local summary=$1 findings=$2 work=$3
  local number
  number=$(event_field .pull_request.number)
  if [[ ! $number =~ ^[0-9]+$ ]]; then
    echo "leakhound: comment: true comments on pull requests only (event: ${GITHUB_EVENT_NAME:-unknown})"
    return 0
  fi
  if [ -z "${INPUT_TOKEN:-}" ] || [ -z "${GITHUB_REPOSITORY:-}" ]; then
    echo "::warning title=leakhound::comment: true needs a token and GITHUB_REPOSITORY"
    return 0
  fi
  local api=${GITHUB_API_URL:-https://api.github.com}
  local marker='<!-- leakhound: pull-request comment -->'
  local headers=$work/headers
  (
    umask 077
    printf 'Authorization: Bearer %s\nAccept: application/vnd.github+json\nX-GitHub-Api-Version: 2022-11-28\n' "$INPUT_TOKEN" >"$headers"
  )
  # The existing comment, if any: the first with the marker, 100 a page.
  local id="" page=1 answer
  while [ "$page" -le 20 ]; do
    if ! answer=$(curl -fsS -H @"$headers" "$api/repos/$GITHUB_REPOSITORY/issues/$number/comments?per_page=100&page=$page"); then
      echo "::warning title=leakhound::cannot read the pull request's comments (a fork's pull request has a read-only token; the comment needs pull-requests: write)"
      return 0
    fi
    id=$(jq -r --arg m "$marker" '[.[] | select((.body // "") | startswith($m)) | .id][0] // empty' <<<"$answer")
    [ -z "$id" ] || break
    [ "$(jq length <<<"$answer")" -ge 100 ] || break
    page=$((page + 1))
  done
  if [ -z "$id" ] && [ "$findings" -eq 0 ]; then
    # Nothing to say and nothing said before.
    return 0
  fi
  { printf '%s\n' "$marker"; cat "$summary"; } | jq -Rs '{body: .}' >"$work/comment.json"
  local method url verb
  if [ -n "$id" ]; then
    method=PATCH url=$api/repos/$GITHUB_REPOSITORY/issues/comments/$id verb=updated
  else
    method=POST url=$api/repos/$GITHUB_REPOSITORY/issues/$number/comments verb=created
  fi
  if curl -fsS -o /dev/null -X "$method" -H @"$headers" -H "Content-Type: application/json" \
    --data-binary @"$work/comment.json" "$url"; then
    echo "leakhound: $verb the pull-request comment"
  else
    echo "::warning title=leakhound::cannot write the pull-request comment (a fork's pull request has a read-only token; the comment needs pull-requests: write)"
  fi
}

scan() {
  local bin=${LEAKHOUND_BIN:-}
  [ -n "$bin" ] || die "LEAKHOUND_BIN is not set (run.sh build sets it)"
  path=${INPUT_PATH:-.}
  local mode=${INPUT_MODE:-}
  if [ -z "$mode" ]; then
    case ${GITHUB_EVENT_NAME:-} in
    pull_request | pull_request_target) mode=pull-request ;;
    push) mode=push ;;
    *) mode=files ;;
    esac
  fi
  local fail_on=${INPUT_FAIL_ON:-any}
  local verify=${INPUT_VERIFY:-false}
  case $verify in true | false) ;; *) die "verify must be true or false, not \`$verify\`" ;; esac
  case $fail_on in
  any | never) ;;
  live) [ "$verify" = true ] || die "fail-on: live needs verify: true" ;;
  *) die "fail-on must be any, live or never, not \`$fail_on\`" ;;
  esac
  local format=${INPUT_FORMAT:-github}
  case $format in github | text) ;; *) die "format must be github or text, not \`$format\`" ;; esac
  local comment=${INPUT_COMMENT:-false}
  case $comment in true | false) ;; *) die "comment must be true or false, not \`$comment\`" ;; esac
  need_jq

  select_mode "$mode"
  # `${a[@]+"${a[@]}"}`: an empty array under `set -u` in bash 3.2 (macOS).
  local args=(scan "$path" --format "$format" ${select[@]+"${select[@]}"})
  [ -z "${INPUT_CONFIG:-}" ] || args+=(--config "$INPUT_CONFIG")
  local work
  work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/leakhound.XXXXXX")
  # A pull request must not be able to switch off its own check: with no
  # `config` input, the base commit's .leakhound.toml applies (or none), not
  # the one the pull request brings. Its changes apply once merged. (The
  # repository root's, as leakhound itself finds it from the workspace.)
  local config_note=""
  if [ "$mode" = pull-request ] && [ -z "${INPUT_CONFIG:-}" ]; then
    if git -C "$path" cat-file -e "$pr_base:.leakhound.toml" 2>/dev/null; then
      git -C "$path" show "$pr_base:.leakhound.toml" >"$work/base-config.toml"
      args+=(--config "$work/base-config.toml")
      config_note="the base commit's \`.leakhound.toml\` applied"
    else
      args+=(--no-config)
      config_note="the base commit has no \`.leakhound.toml\`: none applied"
    fi
    if ! git -C "$path" diff --quiet "$pr_base" "$pr_head" -- :/.leakhound.toml 2>/dev/null; then
      config_note="$config_note; this pull request changes \`.leakhound.toml\`, and its allowlists and skips are not trusted until it is merged"
    fi
    echo "leakhound: configuration: $config_note"
  fi
  # `.gitleaksignore` likewise (it hides findings, as an allowlist does):
  # the base commit's, or none; with or without a `config` input.
  local gitleaksignore_note=""
  if [ "$mode" = pull-request ]; then
    if git -C "$path" cat-file -e "$pr_base:.gitleaksignore" 2>/dev/null; then
      git -C "$path" show "$pr_base:.gitleaksignore" >"$work/base-gitleaksignore"
      args+=(--gitleaksignore "$work/base-gitleaksignore")
      gitleaksignore_note="the base commit's \`.gitleaksignore\` applied"
    else
      args+=(--no-gitleaksignore)
    fi
    if ! git -C "$path" diff --quiet "$pr_base" "$pr_head" -- :/.gitleaksignore 2>/dev/null; then
      gitleaksignore_note="${gitleaksignore_note:-the base commit has no \`.gitleaksignore\`: none applied}; this pull request changes \`.gitleaksignore\`, and its fingerprints are not trusted until it is merged"
    fi
    [ -z "$gitleaksignore_note" ] || echo "leakhound: gitleaksignore: $gitleaksignore_note"
  fi
  # The baseline likewise: read from the base commit, so that a pull
  # request cannot accept its own key by adding it to the baseline.
  local baseline_note=""
  if [ -n "${INPUT_BASELINE:-}" ] && [ "$mode" = pull-request ]; then
    local baseline_dir baseline_name
    baseline_dir=$(dirname -- "$INPUT_BASELINE")
    baseline_name=$(basename -- "$INPUT_BASELINE")
    if git -C "$baseline_dir" cat-file -e "$pr_base:./$baseline_name" 2>/dev/null; then
      git -C "$baseline_dir" show "$pr_base:./$baseline_name" >"$work/base-baseline.json"
      args+=(--baseline "$work/base-baseline.json")
      baseline_note="\`$INPUT_BASELINE\` read from the base commit"
    else
      baseline_note="the base commit has no \`$INPUT_BASELINE\`: no baseline applied"
    fi
    if [ -d "$baseline_dir" ] && ! git -C "$baseline_dir" diff --quiet "$pr_base" "$pr_head" -- "$baseline_name" 2>/dev/null; then
      baseline_note="$baseline_note; this pull request changes it, and the findings it adds there are reported until it is merged"
    fi
    echo "leakhound: baseline: $baseline_note"
  elif [ -n "${INPUT_BASELINE:-}" ]; then
    args+=(--baseline "$INPUT_BASELINE")
  fi
  [ "$verify" = false ] || args+=(--verify)
  [ "$fail_on" != live ] || args+=(--fail-on live)
  [ "$format" != text ] || args+=(--color always)

  local json=$work/report.json summary=$work/summary.md
  args+=(--report "json=$json" --report "markdown=$summary")
  local sarif=${INPUT_SARIF_FILE:-}
  [ -z "$sarif" ] || args+=(--report "sarif=$sarif")
  local extra=()
  read -r -a extra <<<"${INPUT_EXTRA_ARGS:-}" || true
  args+=(${extra[@]+"${extra[@]}"})

  echo "leakhound ${args[*]}" >&2
  local status=0 log=$work/log
  # The log is kept to count the annotations leakhound wrote.
  "$bin" "${args[@]}" >"$log" || status=$?
  cat "$log"

  if [ ! -f "$json" ]; then
    # No report: bad flags, config, baseline or revision.
    output findings ""
    output live ""
    output sarif-file ""
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
      printf '## leakhound: the scan failed (exit status %s)\n\nSee the job log.\n' "$status" >>"$GITHUB_STEP_SUMMARY"
    fi
    exit 2
  fi

  local findings live annotated
  findings=$(jq '.findings | length' "$json")
  live=$(jq '[.findings[] | select(.verification.verdict == "live")] | length' "$json")
  output findings "$findings"
  output live "$live"
  if [ -n "$sarif" ] && [ -f "$sarif" ]; then
    output sarif-file "$sarif"
  else
    output sarif-file ""
  fi
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    [ -z "$config_note" ] || printf '**Configuration:** %s.\n\n' "$config_note" >>"$GITHUB_STEP_SUMMARY"
    [ -z "$baseline_note" ] || printf '**Baseline:** %s.\n\n' "$baseline_note" >>"$GITHUB_STEP_SUMMARY"
    cat "$summary" >>"$GITHUB_STEP_SUMMARY"
    # GitHub shows at most 10 annotations of each kind per step; leakhound
    # annotates the most urgent (live keys, then severity). Say how many
    # the files do not show; the table above lists them all.
    if [ "$format" = github ]; then
      annotated=$(grep -cE '^::(error|warning|notice) ' "$log" || true)
      if [ "$findings" -gt "$annotated" ]; then
        printf '\n%s of %s findings are not annotated on the files (GitHub shows at most 10 annotations of each kind per step; live keys and the most severe come first). All are listed above.\n' \
          "$((findings - annotated))" "$findings" >>"$GITHUB_STEP_SUMMARY"
      fi
    fi
  fi
  [ "$comment" = false ] || pr_comment "$summary" "$findings" "$work"
  rm -rf "$work"

  # Files that could not be read and nothing else found: an error even
  # with fail-on: never, because the scan was incomplete.
  if [ "$status" -ge 2 ]; then
    exit 2
  fi
  if [ "$fail_on" = never ]; then
    exit 0
  fi
  exit "$status"
}

case ${1:-} in
locate) locate ;;
build) build ;;
scan) scan ;;
*)
  echo "usage: run.sh locate|build|scan" >&2
  exit 2
  ;;
esac
