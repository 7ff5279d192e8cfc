# A private network namespace for WebRTC peers: one closed veth pair
# (10.77.0.1/24 on v0) with a default route, since ICE stacks skip
# loopback and Chromium gathers nothing without a default route
# (WEBRTC-NOTES §2). Nothing can leave it. Source this file, then:
#
#   rc_netns_up NAME || rc_skip "..."   # creates it; exits remove it
#   ip netns exec "$RC_NETNS" CMD...
#
# Name it after the branch and PID (rc-<branch>-$$) so parallel runs do
# not collide. On exit rcoapd.sh's servers are stopped (rcd_cleanup, when
# that file is sourced), the namespace's other processes killed, the
# namespace deleted and $RC_TMP removed (testlib.sh's own EXIT trap, which
# this one replaces).
RC_NETNS=
RC_NETNS_IP=10.77.0.1

rc_netns_down() {
  [ -n "$RC_NETNS" ] || return 0
  for pid in $(ip netns pids "$RC_NETNS" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  ip netns del "$RC_NETNS" 2>/dev/null
  RC_NETNS=
}

rc_netns_up() {
  ip netns add "$1" 2>/dev/null || return 1
  RC_NETNS=$1
  trap 'declare -F rcd_cleanup >/dev/null && rcd_cleanup; rc_netns_down; [ -n "${RC_TMP:-}" ] && rm -rf "$RC_TMP"' EXIT
  ip -n "$1" link set lo up &&
    ip -n "$1" link add v0 type veth peer name v1 &&
    ip -n "$1" addr add "$RC_NETNS_IP/24" dev v0 &&
    ip -n "$1" link set v0 up && ip -n "$1" link set v1 up &&
    ip -n "$1" route add default via 10.77.0.254 dev v0
}
