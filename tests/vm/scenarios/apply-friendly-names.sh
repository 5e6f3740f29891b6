# Issue 3, proof 3 — friendly names on: the leftover map is called mpathX, not its WWID; lunguard
# must flush it by its real dm name (the seed's friendly-names bug flushed the WWID instead, which
# matched nothing, and left the map behind).
FRIENDLY=1
. /share/scenarios/apply-seed-race.sh
case $(cat "$OUT/leftover-map.txt") in
    mpath*) say "friendly-named leftover $(cat "$OUT/leftover-map.txt") removed" ;;
    *) fail "expected a friendly map name, got $(cat "$OUT/leftover-map.txt")" ;;
esac
