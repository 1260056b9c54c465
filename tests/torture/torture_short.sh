#!/usr/bin/env bash
# needs: server
# The short run of the randomized differential torture test
# (tests/torture/torture.sh; `make torture` runs it longer): every source
# engine into every target engine at once, random SIGKILLs and target
# outages, about a minute.  A random seed each run, printed; SEED=N reruns
# one.  `make torture SEED=N DURATION=S` reproduces a failure.
exec bash "$(dirname "$0")/../torture/torture.sh"
