#!/usr/bin/env bash
# The GitHub Action's logic (action.yml calls it; tests/cli/action.rs runs
# it with a simulated GitHub environment).
#
#   run.sh build   find or build leakhound; writes `bin=PATH` to $GITHUB_OUTPUT
#   run.sh scan    scan as the INPUT_* variables say; writes the outputs
#                  `findings`, `live` and `sarif-file`, the job summary, and
#                  annotations (or a text report) to the log
#
# Inputs arrive as environment variables, never as text spliced into this
# script, so an input (a branch name, a pull-request title) cannot inject
# commands. The event's SHAs are read from $GITHUB_EVENT_PATH with python3,
# which GitHub's Linux and macOS runners have.
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

build() {
  local bin
  if [ -n "${LEAKHOUND_BIN:-}" ]; then
    [ -x "$LEAKHOUND_BIN" ] || die "LEAKHOUND_BIN=$LEAKHOUND_BIN is not an executable"
    bin=$LEAKHOUND_BIN
  elif bin=$(command -v leakhound 2>/dev/null); then
    echo "using $bin ($("$bin" --version))"
  else
    command -v cargo >/dev/null 2>&1 ||
      die "cargo not found: install a Rust toolchain (dtolnay/rust-toolchain) or leakhound before this step"
    # A target directory outside the action's checkout, so that a workflow
    # can cache it (see the README); cargo rebuilds only what changed.
    local target=${LEAKHOUND_TARGET_DIR:-$HOME/.cache/leakhound/target}
    echo "building leakhound (target directory $target)"
    CARGO_TARGET_DIR=$target cargo build --release --locked \
      --manifest-path "$GITHUB_ACTION_PATH/Cargo.toml"
    bin=$target/release/leakhound
  fi
  output bin "$bin"
}

# Print one field of the event JSON (dotted path), or nothing.
event_field() {
  python3 - "$GITHUB_EVENT_PATH" "$1" <<'PY'
import json, sys
value = json.load(open(sys.argv[1], encoding="utf-8"))
for key in sys.argv[2].split("."):
    value = value.get(key) if isinstance(value, dict) else None
print(value if isinstance(value, str) else "")
PY
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
    base=$(event_field pull_request.base.sha)
    head=$(event_field pull_request.head.sha)
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
    before=$(event_field before)
    after=$(event_field after)
    is_sha "$after" || die "mode push: no \`after\` commit in the event"
    if is_sha "$before" && [[ ! $before =~ ^0+$ ]]; then
      select=(--range "$before..$after")
    else
      # A new branch: its commits are those the default branch lacks.
      default_branch=$(event_field repository.default_branch)
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

  select_mode "$mode"
  # `${a[@]+"${a[@]}"}`: an empty array under `set -u` in bash 3.2 (macOS).
  local args=(scan "$path" --format "$format" ${select[@]+"${select[@]}"})
  [ -z "${INPUT_CONFIG:-}" ] || args+=(--config "$INPUT_CONFIG")
  local work
  work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/leakhound.XXXXXX")
  # A pull request must not be able to switch off its own check: with no
  # `config` input, the base commit's .leakhound.toml applies (or none), not
  # the one the pull request brings. Its changes apply once merged.
  local config_note=""
  if [ "$mode" = pull-request ] && [ -z "${INPUT_CONFIG:-}" ]; then
    if git -C "$path" cat-file -e "$pr_base:./.leakhound.toml" 2>/dev/null; then
      git -C "$path" show "$pr_base:./.leakhound.toml" >"$work/base-config.toml"
      args+=(--config "$work/base-config.toml")
      config_note="the base commit's \`.leakhound.toml\` applied"
    else
      args+=(--no-config)
      config_note="the base commit has no \`.leakhound.toml\`: none applied"
    fi
    if ! git -C "$path" diff --quiet "$pr_base" "$pr_head" -- .leakhound.toml 2>/dev/null; then
      config_note="$config_note; this pull request changes \`.leakhound.toml\`, and its allowlists and skips are not trusted until it is merged"
    fi
    echo "leakhound: configuration: $config_note"
  fi
  [ -z "${INPUT_BASELINE:-}" ] || args+=(--baseline "$INPUT_BASELINE")
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
  local status=0
  "$bin" "${args[@]}" || status=$?

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

  local counts findings live
  counts=$(python3 - "$json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
findings = report["findings"]
live = sum(1 for f in findings if (f.get("verification") or {}).get("verdict") == "live")
print(len(findings), live)
PY
  )
  read -r findings live <<<"$counts"
  output findings "$findings"
  output live "$live"
  if [ -n "$sarif" ] && [ -f "$sarif" ]; then
    output sarif-file "$sarif"
  else
    output sarif-file ""
  fi
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    [ -z "$config_note" ] || printf '**Configuration:** %s.\n\n' "$config_note" >>"$GITHUB_STEP_SUMMARY"
    cat "$summary" >>"$GITHUB_STEP_SUMMARY"
  fi
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
build) build ;;
scan) scan ;;
*)
  echo "usage: run.sh build|scan" >&2
  exit 2
  ;;
esac
