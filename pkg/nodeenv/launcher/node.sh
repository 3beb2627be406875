#!/bin/sh
# jsii starts this instead of node (JSII_NODE), with the path of its node
# wrapper (<runtime>/bin/jsii-runtime.js) as the only argument. It runs
# jsii's kernel (<runtime>/lib/program.js) in this one node process, with
# preload.js beside this script adapting its I/O to jsii's pipes, instead
# of the wrapper's second node start and relay. Anything else runs as
# node would run it.
node="${HOMELAB_JSII_HOST_NODE:-node}"
case "$1" in
--homelab-probe)
	# Ensure checks that this script can run where it was installed.
	exit 0
	;;
*/bin/jsii-runtime.js)
	program="${1%/bin/jsii-runtime.js}/lib/program.js"
	if [ $# -eq 1 ] && [ -f "$program" ]; then
		exec "$node" --preserve-symlinks --require "${0%/*}/preload.js" "$program"
	fi
	;;
esac
exec "$node" "$@"
