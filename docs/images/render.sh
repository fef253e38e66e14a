#!/bin/sh
# The README's pictures of the RA slip and the box label, rendered from the installed command
# (pdftoppm: poppler-utils). Run from the repository root: sh docs/images/render.sh
set -e
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SPECO_RETURNS_DB="$work/returns.db" SPECO_RETURNS_TODAY=2026-11-02 SPECO_RETURNS_MAIL_FROM=returns@speco.example
export SPECO_RETURNS_RETURN_ADDRESS="Speco Technologies
Attn: Returns
200 New Highway
Amityville, NY 11701"
speco-returns catalog add O4B3 --category camera --list-price 249.99 >/dev/null 2>&1
speco-returns open --type advanced --customer "Müller & Söhne Sicherheitstechnik" --email ops@mueller.example \
    --item O4B3:2 --serial SN-3001 --serial SN-3002 --yes >/dev/null 2>&1
speco-returns slip RA-000001 --output "$work/slip.pdf" 2>/dev/null
speco-returns slip RA-000001 --label --output "$work/label.pdf" 2>/dev/null
pdftoppm -r 72 -png -singlefile "$work/slip.pdf" docs/images/slip
pdftoppm -r 96 -png -singlefile "$work/label.pdf" docs/images/label
