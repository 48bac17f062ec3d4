#!/usr/bin/env bash
# WordNet 3.0 for NLTK, offline: Debian's wordnet-base + wordnet-sense-index laid out
# as <venv>/nltk_data/corpora/wordnet (NLTK searches sys.prefix/nltk_data), plus the
# lexnames table Debian does not ship (data/wordnet/lexnames, from lexnames(5WN)).
# With network, `nltk.download("wordnet")` works too; this script then does nothing.
set -euo pipefail
VENV=${VENV:-.venv}
if "$VENV/bin/python" -c 'from nltk.corpus import wordnet as wn; wn.synsets("bat")' 2>/dev/null; then
  exit 0
fi
if [ ! -f /usr/share/wordnet/data.noun ] || [ ! -f /usr/share/wordnet/index.sense ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing WordNet 3.0 (Debian wordnet-base, wordnet-sense-index)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null
  else
    echo "error: WordNet 3.0 is missing. Run as root: apt-get install wordnet-base wordnet-sense-index" >&2
    echo "       or, with network: $VENV/bin/python -c 'import nltk; nltk.download(\"wordnet\")'" >&2
    exit 2
  fi
fi
target="$VENV/nltk_data/corpora/wordnet"
mkdir -p "$target"
for f in /usr/share/wordnet/{data,index}.{noun,verb,adj,adv} /usr/share/wordnet/*.exc \
         /usr/share/wordnet/index.sense /usr/share/wordnet/cntlist.rev; do
  # copies, not links: NLTK refuses paths that resolve outside its data root
  [ -f "$f" ] && cp "$f" "$target/"
done
cp data/wordnet/lexnames "$target/lexnames"
"$VENV/bin/python" -c 'from nltk.corpus import wordnet as wn; assert len(wn.synsets("bat")) == 10' \
  || { echo "error: WordNet was laid out in $target but NLTK cannot read it" >&2; exit 2; }
echo "WordNet ready: $target"
